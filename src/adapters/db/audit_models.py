"""ORM models of the audit trail: `audit_events` (append-only, hash-chained per writer segment),
`audit_segments` (the writers and their anchors) and `audit_anchor` (the legacy chain's anchor).

On PostgreSQL, migrations 0002 and 0006 add triggers that refuse UPDATE, DELETE and TRUNCATE of
`audit_events` (UPDATE always; DELETE/TRUNCATE unless the transaction set
`mirage.audit_retention = 'on'`, which only the retention job does), and guard `audit_anchor` the
same way except that the retention job may UPDATE it.
"""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from adapters.db.models import KEY_TYPE, Base

# BIGSERIAL on PostgreSQL (not IDENTITY: autogenerate can't compare an identity column to SQLite's
# rowid, which has none); SQLite only auto-numbers an INTEGER PRIMARY KEY (a rowid alias).
EVENT_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
HASH_TYPE = String(64)

ANCHOR_ROW_ID = 1


class AuditEventModel(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # The audit API's keyset pages: one user, optionally one key or one action, newest first.
        Index("ix_audit_events_subject_time", "subject_user_id", "occurred_at", "id"),
        Index("ix_audit_events_subject_key_time", "subject_user_id", "secret_key", "occurred_at", "id"),
        Index("ix_audit_events_subject_action_time", "subject_user_id", "action", "occurred_at", "id"),
        # One event per place in a segment: a duplicated or renumbered row is refused outright.
        Index("ux_audit_events_segment_seq", "segment_id", "seq", unique=True),
        # SQLite reuses the highest rowid after the newest rows are deleted (retention may remove
        # all of them); AUTOINCREMENT keeps ids monotonic, which the anchor relies on.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(EVENT_ID_TYPE, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_is_admin: Mapped[bool] = mapped_column(Boolean)
    subject_user_id: Mapped[str] = mapped_column(String(128))
    secret_key: Mapped[str | None] = mapped_column(KEY_TYPE)
    secret_type: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(HASH_TYPE)
    hash: Mapped[str] = mapped_column(HASH_TYPE)
    # The writer segment (0: the legacy single chain) and the event's place in it (1, 2, ...).
    segment_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    seq: Mapped[int | None] = mapped_column(BigInteger)


class AuditSegmentModel(Base):
    """One row per writer (process) ever started: the segment its events chain in. Its anchor
    (`first_seq`, `first_prev_hash`; NULL: the segment's genesis hash) moves only by retention."""

    __tablename__ = "audit_segments"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(EVENT_ID_TYPE, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    writer: Mapped[str] = mapped_column(String(255))
    first_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    first_prev_hash: Mapped[str | None] = mapped_column(HASH_TYPE)


class AuditAnchorModel(Base):
    """One row: the chain starts at event `event_id` (or the first event after it), whose
    `prev_hash` must be `prev_hash`. Genesis: (0, 64 zeros); the retention job moves it."""

    __tablename__ = "audit_anchor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(HASH_TYPE)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
