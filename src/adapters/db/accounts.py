"""SQL implementations of `UserAccounts` (the users table's token columns) and `EnvironmentRegistry`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from adapters.db.engine import Database
from adapters.db.models import EnvironmentModel, UserModel
from adapters.db.repositories import _dialect_insert, _insert_user_if_missing, _transaction
from domain.credentials import EnvironmentRecord, RailwayTarget, TokenSourceCounts


def _now() -> datetime:
    return datetime.now(UTC)


class SqlUserAccounts:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def set_railway_source(
        self, user_id: str, source: str | None, *, validated_at: datetime | None = None
    ) -> None:
        values: dict[str, object] = {"railway_token_source": source, "updated_at": _now()}
        if validated_at is not None or source is None:
            values["railway_last_validated"] = validated_at
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, user_id))
            await session.execute(update(UserModel).where(UserModel.id == user_id).values(**values))

    async def mark_env_fallback(self, user_id: str) -> None:
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, user_id))
            await session.execute(
                update(UserModel)
                .where(UserModel.id == user_id, UserModel.railway_token_source.is_(None))
                .values(railway_token_source="env", updated_at=_now())
            )

    async def railway_source(self, user_id: str) -> str | None:
        async with _transaction(self._db) as session:
            return await session.scalar(select(UserModel.railway_token_source).where(UserModel.id == user_id))

    async def set_github_validated(self, user_id: str, at: datetime | None) -> None:
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, user_id))
            await session.execute(
                update(UserModel).where(UserModel.id == user_id).values(github_last_validated=at, updated_at=_now())
            )

    async def token_sources(self) -> TokenSourceCounts:
        async with _transaction(self._db) as session:
            rows = (
                await session.execute(
                    select(UserModel.railway_token_source, func.count()).group_by(UserModel.railway_token_source)
                )
            ).all()
        counts: dict[str | None, int] = {row[0]: row[1] for row in rows}
        return TokenSourceCounts(
            total=sum(counts.values()),
            vault=counts.get("vault", 0),
            env=counts.get("env", 0),
            none=counts.get(None, 0),
        )

    async def user_ids(self) -> list[str]:
        async with _transaction(self._db) as session:
            return list((await session.scalars(select(UserModel.id).order_by(UserModel.id))).all())


class SqlEnvironmentRegistry:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def ensure(self, user_id: str, env_id: str) -> None:
        now = _now()
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, user_id))
            await session.execute(
                _dialect_insert(self._db, EnvironmentModel.__table__)
                .values(user_id=user_id, id=env_id, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["user_id", "id"])
            )

    async def get(self, user_id: str, env_id: str) -> EnvironmentRecord | None:
        async with _transaction(self._db) as session:
            row = await session.get(EnvironmentModel, (user_id, env_id))
            if row is None:
                return None
            target = None
            if row.railway_project_id and row.railway_environment_id:
                target = RailwayTarget(row.railway_project_id, row.railway_environment_id, row.railway_service_id)
            return EnvironmentRecord(
                user_id=row.user_id, env_id=row.id, created_at=row.created_at, updated_at=row.updated_at, railway=target
            )

    async def set_railway_target(self, user_id: str, env_id: str, target: RailwayTarget) -> None:
        async with _transaction(self._db) as session:
            await session.execute(
                update(EnvironmentModel)
                .where(EnvironmentModel.user_id == user_id, EnvironmentModel.id == env_id)
                .values(
                    railway_project_id=target.project_id,
                    railway_environment_id=target.environment_id,
                    railway_service_id=target.service_id,
                    updated_at=_now(),
                )
            )

    async def count(self, user_id: str) -> int:
        async with _transaction(self._db) as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(EnvironmentModel).where(EnvironmentModel.user_id == user_id)
                )
                or 0
            )
