"""SQL implementations of the `SecretIndex` and `UserDirectory` ports."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Executable, FromClause, TableClause, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.engine import Database
from adapters.db.models import SecretIndexModel, UserModel
from domain.errors import StorageUnavailable
from domain.secrets import SecretRecord

_LIKE_ESCAPE = "\\"


class SqlSecretIndex:
    """The per-user metadata index in SQL. Each call runs in its own short transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def upsert(self, record: SecretRecord) -> None:
        """Insert or update the (user_id, key) row and mark it live again.

        On update the row keeps its first `created_at`, and keeps its `last_accessed_at` when the
        record carries none; every other field comes from `record`. The user's row is created if
        missing. One atomic statement per table, so concurrent upserts of one key can't collide;
        a record older than the stored version is ignored.
        """
        values: dict[str, Any] = {
            "user_id": record.user_id,
            "key": record.key,
            "secret_type": record.secret_type,
            "tags": list(record.tags),
            "description": record.description,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "current_version": record.current_version,
            "deleted": False,
            "last_accessed_at": record.last_accessed_at,
        }
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, record.user_id))
            statement = _dialect_insert(self._db, SecretIndexModel.__table__).values(**values)
            excluded = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=["user_id", "key"],
                set_={
                    "secret_type": excluded.secret_type,
                    "tags": excluded.tags,
                    "description": excluded.description,
                    "updated_at": excluded.updated_at,
                    "current_version": excluded.current_version,
                    "deleted": False,
                    "last_accessed_at": func.coalesce(excluded.last_accessed_at, SecretIndexModel.last_accessed_at),
                },
                # Concurrent writers may finish out of order: an older version never wins.
                where=excluded.current_version >= SecretIndexModel.current_version,
            )
            await session.execute(statement)

    async def get(self, user_id: str, key: str) -> SecretRecord | None:
        """The row for (user_id, key), deleted or not (see `SecretRecord.deleted`)."""
        async with _transaction(self._db) as session:
            row = await session.get(SecretIndexModel, (user_id, key))
            return _to_record(row) if row is not None else None

    async def list(
        self,
        user_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> builtins.list[SecretRecord]:
        """Live secrets of one user ordered by key.

        `secret_type` matches exactly, `query` is a case-insensitive substring of the key (LIKE
        wildcards in it are literal). `tags` (all required) is applied in Python on the rows SQL
        returns: tag containment has no portable SQL form across PostgreSQL and SQLite, and a
        user's index is small.
        """
        statement = (
            select(SecretIndexModel)
            .where(SecretIndexModel.user_id == user_id, SecretIndexModel.deleted.is_(False))
            .order_by(SecretIndexModel.key)
        )
        if secret_type is not None:
            statement = statement.where(SecretIndexModel.secret_type == secret_type)
        if query:
            statement = statement.where(SecretIndexModel.key.ilike(f"%{_escape_like(query)}%", escape=_LIKE_ESCAPE))
        async with _transaction(self._db) as session:
            rows = (await session.scalars(statement)).all()
        wanted = set(tags)
        return [_to_record(row) for row in rows if wanted.issubset(row.tags or ())]

    async def mark_deleted(self, user_id: str, key: str, at: datetime) -> None:
        """Flag the row deleted as of `at`; nothing happens when there is no such row."""
        statement = (
            update(SecretIndexModel)
            .where(SecretIndexModel.user_id == user_id, SecretIndexModel.key == key)
            .values(deleted=True, updated_at=at)
        )
        async with _transaction(self._db) as session:
            await session.execute(statement)

    async def record_access(self, user_id: str, key: str, at: datetime) -> None:
        """Move `last_accessed_at` forward to `at`; a no-op for a missing row or an older `at`."""
        statement = (
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                # Concurrent reads may report out of order; the newest access wins.
                or_(SecretIndexModel.last_accessed_at.is_(None), SecretIndexModel.last_accessed_at < at),
            )
            .values(last_accessed_at=at)
        )
        async with _transaction(self._db) as session:
            await session.execute(statement)


class SqlUserDirectory:
    """The users table in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def ensure(self, user_id: str) -> None:
        """Create the user's row on first use; concurrent first uses are fine (insert-or-ignore)."""
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, user_id))


@asynccontextmanager
async def _transaction(database: Database) -> AsyncIterator[AsyncSession]:
    """One session and transaction, committed on success; database failures become domain errors."""
    try:
        async with database.sessions() as session, session.begin():
            yield session
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        # OSError/TimeoutError: asyncpg raises them unwrapped when the server can't be reached.
        raise StorageUnavailable() from error


def _dialect_insert(database: Database, table: FromClause) -> Any:
    """INSERT with ON CONFLICT support; both dialects spell it the same way."""
    target = cast(TableClause, table)  # a mapped model's `__table__` is typed as the wider FromClause
    if database.dialect == "postgresql":
        return postgresql.insert(target)
    if database.dialect == "sqlite":
        return sqlite.insert(target)
    raise NotImplementedError(f"no upsert for the {database.dialect} dialect")


def _insert_user_if_missing(database: Database, user_id: str) -> Executable:
    now = datetime.now(UTC)
    return (
        _dialect_insert(database, UserModel.__table__)
        .values(id=user_id, vault_enabled=True, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )


def _escape_like(text: str) -> str:
    return (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")
    )


def _to_record(row: SecretIndexModel) -> SecretRecord:
    return SecretRecord(
        user_id=row.user_id,
        key=row.key,
        secret_type=row.secret_type,
        tags=tuple(row.tags or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
        current_version=row.current_version,
        description=row.description,
        deleted=row.deleted,
        last_accessed_at=row.last_accessed_at,
    )
