"""ORM models of the metadata database. Metadata only: no secret value is ever stored here."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import CommonTableAttributes, create_registry
from advanced_alchemy.mixins import AuditColumns
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A registry of our own (with advanced-alchemy's naming convention and type map) rather than the
# shared `orm_registry`: models defined elsewhere in the process then can't leak into this
# metadata, which the migrations are compared against.
_registry = create_registry()

# JSONB on PostgreSQL, JSON elsewhere (what advanced_alchemy.types.JsonB does, which breaks on
# SQLAlchemy 2.1 should the pin in pyproject.toml ever be lifted).
TAGS_TYPE = JSON().with_variant(JSONB(), "postgresql")

# Keys sort by code point everywhere: "C" collation on PostgreSQL (whatever the server locale),
# SQLite's default BINARY elsewhere, so listings don't reorder between databases.
KEY_TYPE = String(255).with_variant(String(255, collation="C"), "postgresql")


class Base(CommonTableAttributes, DeclarativeBase):
    __abstract__ = True
    registry = _registry
    metadata = _registry.metadata


class UserModel(AuditColumns, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("railway_token_source IN ('vault', 'env')", name="railway_token_source"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vault_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    railway_token_source: Mapped[str | None] = mapped_column(String(16))
    railway_last_validated: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    github_last_validated: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class SecretIndexModel(AuditColumns, Base):
    __tablename__ = "secret_index"
    __table_args__ = (
        # The (user_id, key) primary key is the uniqueness rule and the upsert's conflict target.
        Index("ix_secret_index_user_deleted_key", "user_id", "deleted", "key"),
        Index("ix_secret_index_user_type", "user_id", "secret_type"),
        # The cleanup pass: live secrets past their expiry, expired ones past the recovery window.
        Index("ix_secret_index_deleted_expires", "deleted", "expires_at"),
    )

    user_id: Mapped[str] = mapped_column(String(128), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(KEY_TYPE, primary_key=True)
    secret_type: Mapped[str] = mapped_column(String(64))
    # JSON (JSONB on PostgreSQL) list of strings; tag filtering happens in Python, see repositories.
    tags: Mapped[list[str]] = mapped_column(TAGS_TYPE, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    current_version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_accessed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    # The lifecycle (0005): the TTL expiry, rotation period, when the current value was written,
    # the provider's own expiry, and the soft delete the cleanup pass did.
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    rotate_every_days: Mapped[int | None] = mapped_column(Integer)
    version_created_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    provider_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    deleted_reason: Mapped[str | None] = mapped_column(String(32))
    # The smallest warning threshold (days) already on the audit trail for the current expiry.
    expiry_warned_days: Mapped[int | None] = mapped_column(Integer)


class EnvironmentModel(AuditColumns, Base):
    """An environment of one user the service knows, and where it syncs to on Railway."""

    __tablename__ = "environments"

    user_id: Mapped[str] = mapped_column(String(128), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    railway_project_id: Mapped[str | None] = mapped_column(String(128))
    railway_environment_id: Mapped[str | None] = mapped_column(String(128))
    railway_service_id: Mapped[str | None] = mapped_column(String(128))
