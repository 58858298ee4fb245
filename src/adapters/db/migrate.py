"""Schema migrations, driven programmatically (no alembic.ini needed).

`upgrade`/`downgrade` are synchronous and block until done. They run Alembic in a worker thread
with an event loop of its own, so they work from plain sync code and even from a thread that is
running an event loop (which they then block); from async code prefer
`await asyncio.to_thread(upgrade, url)`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is ConfigParser interpolation syntax; a password containing it must survive.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    _in_worker_thread(command.upgrade, alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    _in_worker_thread(command.downgrade, alembic_config(url), revision)


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated). Read-only; blocks like `upgrade`."""
    import asyncio

    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        return pool.submit(asyncio.run, read()).result()


def is_up_to_date(url: str) -> bool:
    """True when the database is at the newest revision this code knows."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return current_revision(url) in set(script.get_heads())


def _in_worker_thread(run: Callable[[Config, str], None], config: Config, revision: str) -> None:
    # env.py calls asyncio.run(); a fresh thread never has a running loop, and the caller's
    # thread keeps its own event loop untouched.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        pool.submit(run, config, revision).result()
