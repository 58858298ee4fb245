"""What `index reconcile` needs from the index beyond the request path: every user, every row
(deleted ones too), and an unconditional replace (a restored Vault may be at an older version)."""

from __future__ import annotations

from sqlalchemy import distinct, select, update

from adapters.db.engine import Database
from adapters.db.models import SecretIndexModel
from adapters.db.repositories import _insert_user_if_missing, _to_record, _transaction
from domain.secrets import SecretRecord


class SqlIndexRepair:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def users(self) -> list[str]:
        async with _transaction(self._db) as session:
            return list((await session.scalars(select(distinct(SecretIndexModel.user_id)))).all())

    async def records(self, user_id: str) -> list[SecretRecord]:
        statement = select(SecretIndexModel).where(SecretIndexModel.user_id == user_id)
        async with _transaction(self._db) as session:
            return [_to_record(row) for row in (await session.scalars(statement)).all()]

    async def replace(self, record: SecretRecord) -> None:
        """Make the row say exactly what `record` says (kept: `last_accessed_at`)."""
        async with _transaction(self._db) as session:
            await session.execute(_insert_user_if_missing(self._db, record.user_id))
            row = await session.get(SecretIndexModel, (record.user_id, record.key))
            if row is None:
                session.add(
                    SecretIndexModel(
                        user_id=record.user_id,
                        key=record.key,
                        secret_type=record.secret_type,
                        tags=list(record.tags),
                        description=record.description,
                        current_version=record.current_version,
                        deleted=record.deleted,
                        created_at=record.created_at,
                        updated_at=record.updated_at,
                        **_lifecycle(record),
                    )
                )
                return
            await session.execute(
                update(SecretIndexModel)
                .where(SecretIndexModel.user_id == record.user_id, SecretIndexModel.key == record.key)
                .values(
                    secret_type=record.secret_type,
                    tags=list(record.tags),
                    description=record.description,
                    current_version=record.current_version,
                    deleted=record.deleted,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                    **_lifecycle(record),
                )
            )


def _lifecycle(record: SecretRecord) -> dict[str, object]:
    """The TTL/rotation columns; a deleted row keeps when it was deleted (and why, if it says)."""
    return {
        "expires_at": record.expires_at,
        "rotate_every_days": record.rotate_every_days,
        "version_created_at": record.version_created_at,
        "provider_expires_at": record.provider_expires_at,
        "deleted_at": record.deleted_at if record.deleted else None,
        "deleted_reason": record.deleted_reason if record.deleted else None,
    }
