"""Ports: The append-only, hash-chained audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.audit import AuditEvent, AuditPage, AuditQuery, ChainHead, ChainVerification, StoredAuditEvent


class AuditLog(Protocol):
    """The append-only, hash-chained audit trail.

    `append` returns only once the event is durable; when it can't be, it raises
    `AuditUnavailable` and the caller must fail closed (not return the value it was about to).
    """

    async def append(self, event: AuditEvent) -> StoredAuditEvent: ...

    async def query(self, q: AuditQuery) -> AuditPage:
        """One page of `q.subject_user_id`'s events matching the filters, newest first."""
        ...

    async def verify(self, witnessed: dict[int, ChainHead] | None = None) -> ChainVerification:
        """Check every segment from its anchor (see `ChainVerifier`), and each `witnessed` head
        against the stored rows; name the first broken link."""
        ...

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Remove the oldest events (those before the first event at or after `cutoff`), move the
        anchor to the first kept event, append a `retention` event; return how many were removed."""
        ...

    async def last_access(self, subject_user_id: str, keys: Sequence[str]) -> dict[str, datetime]:
        """The newest successful access (`ACCESS_ACTIONS`) per key, for the keys that have one."""
        ...


class ChainWitness(Protocol):
    """Chain heads kept outside the audit store (which an attacker with the database's
    credentials can't rewrite). `publish` is called at an interval by each writer; `latest`
    returns every segment's newest published head (empty when nothing was ever published)."""

    async def publish(self, segment_id: int, head: ChainHead) -> None: ...

    async def latest(self) -> dict[int, ChainHead]: ...
