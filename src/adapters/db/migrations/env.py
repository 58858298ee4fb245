"""Alembic environment, driven by `adapters.db.migrate` (no alembic.ini).

Online mode only for async URLs: the migrations run on a connection of an async engine
(asyncpg/aiosqlite) through `run_sync`, in an event loop of their own.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from adapters.db.engine import create_database
from adapters.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade --sql`) instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch mode rebuilds a table by copy-drop-rename; with foreign keys on, dropping `users`
        # would cascade-delete every index row. The pragma only takes effect outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things in place; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    # The application's engine setup (SQLite parent directory, pragmas), disposed before this
    # one-off event loop ends so no pooled connection outlives it.
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic was started without sqlalchemy.url (use adapters.db.migrate.upgrade)")
    database = create_database(url)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await database.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # A caller that already holds a (sync) connection, e.g. inside `AsyncConnection.run_sync`.
        _run(connection)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
