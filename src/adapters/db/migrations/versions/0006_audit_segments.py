"""Audit writer segments: one hash-chained segment per writer process, no cross-process lock.

`audit_segments` registers every writer when it starts (its id is the segment id, never reused)
and holds the segment's anchor (`first_seq`, `first_prev_hash`; NULL means the segment's genesis
hash), which only the retention job moves. `audit_events` gains `segment_id` and `seq`; rows from
before this revision stay in the legacy segment 0 (`seq` NULL, the v1 single chain).

On PostgreSQL `audit_segments` is guarded like `audit_anchor`: UPDATE, DELETE and TRUNCATE only
in a transaction that set `mirage.audit_retention = 'on'` (and, with the roles `db upgrade`
grants, only the owner may do those at all).

Revision ID: 0006
Revises: 0005_secret_lifecycle
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005_secret_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_SEGMENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_TRIGGERS = (
    (
        "CREATE TRIGGER audit_segments_guard BEFORE UPDATE OR DELETE ON audit_segments "
        "FOR EACH ROW EXECUTE FUNCTION mirage_audit_guard()"
    ),
    (
        "CREATE TRIGGER audit_segments_no_truncate BEFORE TRUNCATE ON audit_segments "
        "FOR EACH STATEMENT EXECUTE FUNCTION mirage_audit_guard()"
    ),
)


def upgrade() -> None:
    op.create_table(
        "audit_segments",
        sa.Column("id", _SEGMENT_ID, autoincrement=True, nullable=False),  # BIGSERIAL
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("writer", sa.String(255), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("first_prev_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_segments"),
        sqlite_autoincrement=True,  # segment ids are never reused, even after the newest is removed
    )
    with op.batch_alter_table("audit_events") as batch:
        # A metadata-only change on PostgreSQL (a constant default): no row is rewritten, so the
        # append-only trigger is not involved.
        batch.add_column(sa.Column("segment_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.create_index("ux_audit_events_segment_seq", "audit_events", ["segment_id", "seq"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        for statement in _TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    op.drop_index("ux_audit_events_segment_seq", table_name="audit_events")
    if op.get_bind().dialect.name == "postgresql":
        # Dropping columns doesn't touch rows either; the guard only fires on row changes.
        op.execute("ALTER TABLE audit_events DROP COLUMN seq, DROP COLUMN segment_id")
    else:
        with op.batch_alter_table("audit_events") as batch:
            batch.drop_column("seq")
            batch.drop_column("segment_id")
    op.drop_table("audit_segments")
