"""In-memory `AuditLog` with the same semantics as `adapters.db.audit_log.SqlAuditLog`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from domain.audit import (
    ACCESS_ACTIONS,
    GENESIS_HASH,
    AuditEvent,
    AuditOutcome,
    AuditPage,
    AuditQuery,
    AuditUnavailable,
    ChainVerification,
    StoredAuditEvent,
    chain_hash,
    encode_cursor,
    retention_event,
    seal,
)


class InMemoryAuditLog:
    """The trail as a list. `.events` is observable (and, for tamper tests, writable);
    set `.available = False` to make every call raise `AuditUnavailable`."""

    def __init__(self) -> None:
        self.events: list[StoredAuditEvent] = []
        self.available = True
        # The chain starts at `anchor_id` with `anchor_prev_hash` (moved by the retention job).
        self.anchor_id = 0
        self.anchor_prev_hash = GENESIS_HASH
        self._next_id = 1
        self._lock = asyncio.Lock()

    def _check(self) -> None:
        if not self.available:
            raise AuditUnavailable()

    def _tail_hash(self) -> str:
        return self.events[-1].hash if self.events else self.anchor_prev_hash

    def _append_now(self, event: AuditEvent) -> StoredAuditEvent:
        stored = seal(event, id=self._next_id, prev_hash=self._tail_hash())
        self._next_id += 1
        self.events.append(stored)
        return stored

    async def append(self, event: AuditEvent) -> StoredAuditEvent:
        self._check()
        async with self._lock:
            await asyncio.sleep(0)  # let concurrent appenders interleave, as they would in SQL
            self._check()
            return self._append_now(event)

    async def query(self, q: AuditQuery) -> AuditPage:
        self._check()
        matching = sorted((e for e in self.events if q.matches(e)), key=lambda e: (e.occurred_at, e.id), reverse=True)
        page = tuple(matching[: q.limit])
        more = len(matching) > q.limit
        return AuditPage(page, encode_cursor(page[-1].occurred_at, page[-1].id) if more else None)

    async def verify(self) -> ChainVerification:
        self._check()
        expected_prev = self.anchor_prev_hash
        checked = 0
        for event in sorted(self.events, key=lambda e: e.id):
            if event.id < self.anchor_id:
                continue
            if event.prev_hash != expected_prev:
                return ChainVerification(
                    ok=False,
                    checked=checked,
                    first_broken_id=event.id,
                    reason="prev_hash does not match the preceding event: an event is missing or altered",
                )
            if chain_hash(event.prev_hash, event) != event.hash:
                return ChainVerification(
                    ok=False,
                    checked=checked,
                    first_broken_id=event.id,
                    reason="hash does not match the event's content: the event was altered",
                )
            expected_prev = event.hash
            checked += 1
        return ChainVerification(ok=True, checked=checked)

    async def purge_older_than(self, cutoff: datetime) -> int:
        self._check()
        async with self._lock:
            first_kept = next((i for i, e in enumerate(self.events) if e.occurred_at >= cutoff), len(self.events))
            removed = self.events[:first_kept]
            if removed:
                self.anchor_prev_hash = removed[-1].hash
                self.anchor_id = self.events[first_kept].id if first_kept < len(self.events) else self._next_id
                del self.events[:first_kept]
            self._append_now(retention_event(len(removed), cutoff))
            return len(removed)

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
