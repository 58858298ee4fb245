"""Audit trail: append-only, hash-chained `audit_events` and the retention `audit_anchor`.

On PostgreSQL, triggers make `audit_events` append-only: UPDATE is always refused; DELETE and
TRUNCATE are refused unless the transaction set `mirage.audit_retention = 'on'` (the retention job
does, with `set_config(..., true)` = SET LOCAL). `audit_anchor` may also be UPDATEd under that
setting (the retention job moves it), never otherwise.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here, not imported from the models (see 0001).
_TIMESTAMP = sa.DateTime(timezone=True)
_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
_EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_HASH = sa.String(64)
_GENESIS = "0" * 64

_GUARD_FUNCTION = """
CREATE FUNCTION mirage_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'audit_events' AND TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_events is append-only: UPDATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF coalesce(current_setting('mirage.audit_retention', true), '') <> 'on' THEN
        RAISE EXCEPTION '% on % refused: the audit trail is append-only (only the retention job removes events)',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""

_TRIGGERS = (
    (
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION mirage_audit_guard()"
    ),
    (
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION mirage_audit_guard()"
    ),
    (
        "CREATE TRIGGER audit_anchor_guard BEFORE UPDATE OR DELETE ON audit_anchor "
        "FOR EACH ROW EXECUTE FUNCTION mirage_audit_guard()"
    ),
    (
        "CREATE TRIGGER audit_anchor_no_truncate BEFORE TRUNCATE ON audit_anchor "
        "FOR EACH STATEMENT EXECUTE FUNCTION mirage_audit_guard()"
    ),
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _EVENT_ID, autoincrement=True, nullable=False),  # BIGSERIAL
        sa.Column("occurred_at", _TIMESTAMP, nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("actor_is_admin", sa.Boolean(), nullable=False),
        sa.Column("subject_user_id", sa.String(128), nullable=False),
        sa.Column("secret_key", _KEY, nullable=True),
        sa.Column("secret_type", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("trace_id", sa.String(128), nullable=True),
        sa.Column("prev_hash", _HASH, nullable=False),
        sa.Column("hash", _HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        # Monotonic ids on SQLite even after retention removed the newest rows.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_subject_time", "audit_events", ["subject_user_id", "occurred_at", "id"])
    op.create_index(
        "ix_audit_events_subject_key_time",
        "audit_events",
        ["subject_user_id", "secret_key", "occurred_at", "id"],
    )
    op.create_index(
        "ix_audit_events_subject_action_time",
        "audit_events",
        ["subject_user_id", "action", "occurred_at", "id"],
    )
    anchor = op.create_table(
        "audit_anchor",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", _HASH, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_anchor"),
        sa.CheckConstraint("id = 1", name="ck_audit_anchor_single_row"),
    )
    # The genesis anchor: the first event's prev_hash is 64 zeros.
    op.execute(anchor.insert().values(id=1, event_id=0, prev_hash=_GENESIS, updated_at=sa.func.now()))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GUARD_FUNCTION)
        for statement in _TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    # Dropping the tables drops their triggers; the function goes last.
    op.drop_table("audit_anchor")
    op.drop_index("ix_audit_events_subject_action_time", table_name="audit_events")
    op.drop_index("ix_audit_events_subject_key_time", table_name="audit_events")
    op.drop_index("ix_audit_events_subject_time", table_name="audit_events")
    op.drop_table("audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS mirage_audit_guard()")
