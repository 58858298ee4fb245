"""In-memory `AuditLog` with the same semantics as `adapters.db.audit_log.SqlAuditLog`: one
writer segment for the log's appends, a segment of its own for each retention event."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from domain.audit import (
    ACCESS_ACTIONS,
    AuditEvent,
    AuditOutcome,
    AuditPage,
    AuditQuery,
    AuditUnavailable,
    ChainHead,
    ChainVerification,
    ChainVerifier,
    SegmentAnchor,
    StoredAuditEvent,
    encode_cursor,
    event_values,
    retention_event,
    seal,
    segment_genesis,
)


class InMemoryAuditLog:
    """The trail as a list. `.events` is observable (and, for tamper tests, writable);
    set `.available = False` to make every call raise `AuditUnavailable`."""

    def __init__(self) -> None:
        self.events: list[StoredAuditEvent] = []
        self.available = True
        self.segments: dict[int, SegmentAnchor] = {}  # the registered segments and their anchors
        self._segment: int | None = None  # this log's writer segment, registered on first append
        self._next_id = 1
        self._lock = asyncio.Lock()

    def _check(self) -> None:
        if not self.available:
            raise AuditUnavailable()

    def _register(self) -> int:
        segment_id = max(self.segments, default=0) + 1
        self.segments[segment_id] = SegmentAnchor(1, segment_genesis(segment_id))
        return segment_id

    def _append_now(self, event: AuditEvent, segment_id: int) -> StoredAuditEvent:
        tail = [e for e in self.events if e.segment_id == segment_id]
        anchor = self.segments[segment_id]
        seq, prev = (tail[-1].seq + 1, tail[-1].hash) if tail and tail[-1].seq else (anchor.first_seq, anchor.prev_hash)
        stored = seal(event, id=self._next_id, prev_hash=prev, segment_id=segment_id, seq=seq)
        self._next_id += 1
        self.events.append(stored)
        return stored

    def heads(self) -> dict[int, ChainHead]:
        tail = [e for e in self.events if e.segment_id == self._segment]
        return {tail[-1].segment_id: ChainHead(tail[-1].seq or 0, tail[-1].hash)} if tail else {}

    async def append(self, event: AuditEvent) -> StoredAuditEvent:
        self._check()
        async with self._lock:
            await asyncio.sleep(0)  # let concurrent appenders interleave, as they would in SQL
            self._check()
            if self._segment is None:
                self._segment = self._register()
            return self._append_now(event, self._segment)

    async def query(self, q: AuditQuery) -> AuditPage:
        self._check()
        matching = sorted((e for e in self.events if q.matches(e)), key=lambda e: (e.occurred_at, e.id), reverse=True)
        page = tuple(matching[: q.limit])
        more = len(matching) > q.limit
        return AuditPage(page, encode_cursor(page[-1].occurred_at, page[-1].id) if more else None)

    async def verify(self, witnessed: dict[int, ChainHead] | None = None) -> ChainVerification:
        self._check()
        verifier = ChainVerifier(dict(self.segments), witnessed=witnessed)
        for e in sorted(self.events, key=lambda e: (e.segment_id, e.seq or 0, e.id)):
            if not verifier.feed(e.id, e.segment_id, e.seq, e.prev_hash, e.hash, event_values(e)):
                break
        return verifier.finish()

    async def purge_older_than(self, cutoff: datetime) -> int:
        self._check()
        async with self._lock:
            removed = 0
            for segment_id in sorted({e.segment_id for e in self.events}):
                in_segment = [e for e in self.events if e.segment_id == segment_id]
                first_kept = next((i for i, e in enumerate(in_segment) if e.occurred_at >= cutoff), len(in_segment))
                if first_kept == 0:
                    continue
                last = in_segment[first_kept - 1]
                gone = {e.id for e in in_segment[:first_kept]}
                self.events[:] = [e for e in self.events if e.id not in gone]
                self.segments[segment_id] = SegmentAnchor((last.seq or 0) + 1, last.hash)
                removed += len(gone)
            self._append_now(retention_event(removed, cutoff), self._register())
            return removed

    async def last_access(self, subject_user_id: str, keys: Sequence[str]) -> dict[str, datetime]:
        self._check()
        wanted = set(keys)
        latest: dict[str, datetime] = {}
        for e in self.events:
            if (
                e.subject_user_id == subject_user_id
                and e.secret_key in wanted
                and e.action in ACCESS_ACTIONS
                and e.outcome is AuditOutcome.SUCCESS
            ):
                assert e.secret_key is not None
                if e.secret_key not in latest or e.occurred_at > latest[e.secret_key]:
                    latest[e.secret_key] = e.occurred_at
        return latest
