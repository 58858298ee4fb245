"""Environments: each user's environments the service knows, and their Railway sync target.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("railway_project_id", sa.String(128), nullable=True),
        sa.Column("railway_environment_id", sa.String(128), nullable=True),
        sa.Column("railway_service_id", sa.String(128), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "id", name="pk_environments"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_environments_user_id_users", ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("environments")
