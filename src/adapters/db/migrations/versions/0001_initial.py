"""Initial schema: users and the secret metadata index.

Revision ID: 0001
Revises:
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported from the models, so this revision keeps
# meaning what it meant when it was written.
_TIMESTAMP = sa.DateTime(timezone=True)
_TAGS = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Code-point ordering of keys on PostgreSQL regardless of the server's locale.
_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("vault_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("railway_token_source", sa.String(16), nullable=True),
        sa.Column("railway_last_validated", _TIMESTAMP, nullable=True),
        sa.Column("github_last_validated", _TIMESTAMP, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint("railway_token_source IN ('vault', 'env')", name="ck_users_railway_token_source"),
    )
    op.create_table(
        "secret_index",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("secret_type", sa.String(64), nullable=False),
        sa.Column("tags", _TAGS, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_accessed_at", _TIMESTAMP, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_secret_index"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_secret_index_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_secret_index_user_deleted_key", "secret_index", ["user_id", "deleted", "key"])
    op.create_index("ix_secret_index_user_type", "secret_index", ["user_id", "secret_type"])


def downgrade() -> None:
    op.drop_index("ix_secret_index_user_type", table_name="secret_index")
    op.drop_index("ix_secret_index_user_deleted_key", table_name="secret_index")
    op.drop_table("secret_index")
    op.drop_table("users")
