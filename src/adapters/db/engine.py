"""The metadata database: one async engine and its session factory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# SQLite waits this long for another connection's write lock instead of failing at once with
# "database is locked" (concurrent requests write to the same file).
_SQLITE_BUSY_TIMEOUT_MS = 15_000


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> bool:
        """True when a round trip to the database works; never raises (for health checks)."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError):
            return False
        return True


def create_database(url: str) -> Database:
    """Build the engine for `url` (`postgresql+asyncpg://...` or `sqlite+aiosqlite:///path`).

    No connection is made here; the first query connects.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = create_async_engine(
            parsed,
            # Connections dropped by the server, a proxy or a failover are replaced transparently.
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=10,
            pool_recycle=1800,
            # asyncpg: fail fast when the server can't be reached rather than hang a request.
            connect_args=_asyncpg_connect_args(parsed),
        )
    # expire_on_commit=False: rows are mapped to domain records after commit, outside the session.
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


def _asyncpg_connect_args(url: URL) -> dict[str, Any]:
    return {"timeout": 10} if url.get_driver_name() == "asyncpg" else {}


def _sqlite_engine(url: URL) -> AsyncEngine:
    in_memory = url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)
    if not in_memory and not str(url.database).startswith("file:"):
        Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite leaves foreign keys off per connection unless asked; WAL lets readers run while
        # one writer writes; NORMAL sync is durable enough in WAL mode and much faster.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
