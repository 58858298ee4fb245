"""SQL implementations of the `SecretIndex` and `UserDirectory` ports."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Executable, FromClause, TableClause, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.engine import Database
from adapters.db.models import SecretIndexModel, UserModel
from domain.errors import StorageUnavailable
from domain.lifecycle import DESTROYING_REASON, EXPIRY_REASON
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
            "expires_at": record.expires_at,
            "rotate_every_days": record.rotate_every_days,
            "version_created_at": record.version_created_at,
            "provider_expires_at": record.provider_expires_at,
            "deleted_at": None,
            "deleted_reason": None,
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
                    "expires_at": excluded.expires_at,
                    "rotate_every_days": excluded.rotate_every_days,
                    # A metadata change carries no version time: the current value's stays.
                    "version_created_at": case(
                        (excluded.current_version > SecretIndexModel.current_version, excluded.version_created_at),
                        else_=func.coalesce(SecretIndexModel.version_created_at, excluded.version_created_at),
                    ),
                    "provider_expires_at": excluded.provider_expires_at,
                    "deleted_at": None,
                    "deleted_reason": None,
                    # A new expiry earns its warnings afresh.
                    "expiry_warned_days": case(
                        (
                            or_(
                                SecretIndexModel.expires_at.is_distinct_from(excluded.expires_at),
                                SecretIndexModel.provider_expires_at.is_distinct_from(excluded.provider_expires_at),
                            ),
                            None,
                        ),
                        else_=SecretIndexModel.expiry_warned_days,
                    ),
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
            .values(deleted=True, updated_at=at, deleted_at=at, deleted_reason=None)
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


class SqlSecretLifecycleIndex:
    """The cleanup pass's view of the index (`domain.ports.SecretLifecycleIndex`), across users.

    Every `claim_*` is one conditional UPDATE: of several instances racing for a row, exactly one
    sees it change, so no secret is expired, destroyed or warned about twice.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def expired_live(self, now: datetime, limit: int) -> builtins.list[SecretRecord]:
        return await self._select(
            and_(SecretIndexModel.deleted.is_(False), SecretIndexModel.expires_at <= now),
            SecretIndexModel.expires_at,
            limit,
        )

    async def past_recovery(self, cutoff: datetime, limit: int) -> builtins.list[SecretRecord]:
        return await self._select(
            and_(
                SecretIndexModel.deleted.is_(True),
                SecretIndexModel.deleted_reason == EXPIRY_REASON,
                SecretIndexModel.deleted_at <= cutoff,
            ),
            SecretIndexModel.deleted_at,
            limit,
        )

    async def expiring_live(self, until: datetime, limit: int) -> builtins.list[SecretRecord]:
        return await self._select(
            and_(
                SecretIndexModel.deleted.is_(False),
                or_(SecretIndexModel.expires_at <= until, SecretIndexModel.provider_expires_at <= until),
            ),
            SecretIndexModel.user_id,
            limit,
        )

    async def count_expiring(self, now: datetime, until: datetime) -> int:
        def within(column: Any) -> Any:
            return and_(column > now, column <= until)

        statement = select(func.count()).where(
            SecretIndexModel.deleted.is_(False),
            or_(within(SecretIndexModel.expires_at), within(SecretIndexModel.provider_expires_at)),
        )
        async with _transaction(self._db) as session:
            return int((await session.execute(statement)).scalar_one())

    async def claim_expired(self, user_id: str, key: str, now: datetime) -> bool:
        return await self._claim(
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted.is_(False),
                SecretIndexModel.expires_at <= now,
            )
            .values(deleted=True, deleted_at=now, deleted_reason=EXPIRY_REASON, updated_at=now)
        )

    async def release_expired(self, user_id: str, key: str) -> None:
        await self._claim(
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted_reason == EXPIRY_REASON,
            )
            .values(deleted=False, deleted_at=None, deleted_reason=None)
        )

    async def claim_destroy(self, user_id: str, key: str, cutoff: datetime) -> bool:
        return await self._claim(
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted.is_(True),
                SecretIndexModel.deleted_reason == EXPIRY_REASON,
                SecretIndexModel.deleted_at <= cutoff,
            )
            .values(deleted_reason=DESTROYING_REASON)
        )

    async def release_destroy(self, user_id: str, key: str) -> None:
        await self._claim(
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted_reason == DESTROYING_REASON,
            )
            .values(deleted_reason=EXPIRY_REASON)
        )

    async def remove(self, user_id: str, key: str) -> None:
        await self._claim(
            delete(SecretIndexModel).where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted_reason == DESTROYING_REASON,
            )
        )

    async def claim_warning(self, user_id: str, key: str, threshold_days: int) -> bool:
        return await self._claim(
            update(SecretIndexModel)
            .where(
                SecretIndexModel.user_id == user_id,
                SecretIndexModel.key == key,
                SecretIndexModel.deleted.is_(False),
                or_(
                    SecretIndexModel.expiry_warned_days.is_(None),
                    SecretIndexModel.expiry_warned_days > threshold_days,
                ),
            )
            .values(expiry_warned_days=threshold_days)
        )

    async def _select(self, condition: Any, order: Any, limit: int) -> builtins.list[SecretRecord]:
        statement = select(SecretIndexModel).where(condition).order_by(order).limit(limit)
        async with _transaction(self._db) as session:
            rows = (await session.scalars(statement)).all()
        return [_to_record(row) for row in rows]

    async def _claim(self, statement: Any) -> bool:
        async with _transaction(self._db) as session:
            # An UPDATE/DELETE: the result is a CursorResult, which knows how many rows matched.
            result = cast(CursorResult[Any], await session.execute(statement))
        return bool(result.rowcount)


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
        expires_at=row.expires_at,
        rotate_every_days=row.rotate_every_days,
        version_created_at=row.version_created_at,
        provider_expires_at=row.provider_expires_at,
        deleted_at=row.deleted_at,
        deleted_reason=row.deleted_reason,
    )
