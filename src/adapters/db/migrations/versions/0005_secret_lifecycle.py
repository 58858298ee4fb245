"""Secret lifecycle: TTL expiry, rotation period, provider expiry and the cleanup pass's state.

Revision ID: 0005_secret_lifecycle
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_secret_lifecycle"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_COLUMNS = (
    ("expires_at", _TIMESTAMP),
    ("rotate_every_days", sa.Integer()),
    ("version_created_at", _TIMESTAMP),
    ("provider_expires_at", _TIMESTAMP),
    ("deleted_at", _TIMESTAMP),
    ("deleted_reason", sa.String(32)),
    ("expiry_warned_days", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("secret_index") as table:
        for name, type_ in _COLUMNS:
            table.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_secret_index_deleted_expires", "secret_index", ["deleted", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_secret_index_deleted_expires", table_name="secret_index")
    with op.batch_alter_table("secret_index") as table:
        for name, _ in reversed(_COLUMNS):
            table.drop_column(name)
