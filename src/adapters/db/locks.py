"""`JobLock` on the metadata database: a PostgreSQL session advisory lock, or a process lock on SQLite."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from adapters.db.engine import Database

log = logging.getLogger("mirage.jobs")


def lock_id(name: str) -> int:
    """A stable signed 64-bit key for `pg_try_advisory_lock` from a job's name."""
    return int.from_bytes(hashlib.sha256(f"mirage-secrets:{name}".encode()).digest()[:8], "big", signed=True)


class DatabaseJobLock:
    """On PostgreSQL, `pg_try_advisory_lock` on a connection held for the job: every replica and
    worker sharing the database sees it, and it goes away with the connection if the holder dies.
    SQLite serves a single development process, so an in-process lock is the whole story there."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._local: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        if self._db.dialect != "postgresql":
            local = self._local.setdefault(name, asyncio.Lock())
            if local.locked():
                yield False
                return
            async with local:
                yield True
            return
        key = lock_id(name)
        try:
            connection = await self._db.engine.connect()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("job lock %s not taken: database unavailable (%s)", name, type(exc).__name__)
            yield False
            return
        try:
            got = bool((await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar())
            await connection.commit()  # the lock is per session, not per transaction
            try:
                yield got
            finally:
                if got:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await connection.commit()
        finally:
            await connection.close()
