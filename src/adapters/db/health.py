"""Is the database reachable, and is its schema at the newest migration this code ships?"""

from __future__ import annotations

from functools import cache

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from adapters.db.engine import Database
from adapters.db.migrate import revisions
from domain.health import DatabaseHealth


@cache
def _newest_revision() -> str:
    return revisions()[-1]  # reads the migration scripts: once per process is enough


async def database_health(database: Database) -> DatabaseHealth:
    expected = _newest_revision()
    try:
        async with database.engine.connect() as connection:
            current = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except (SQLAlchemyError, OSError):
        # Unreachable, or reachable without the migration table: tell them apart with a ping.
        return DatabaseHealth(reachable=await database.ping(), expected_revision=expected)
    return DatabaseHealth(reachable=True, migrated=current == expected, revision=current, expected_revision=expected)
