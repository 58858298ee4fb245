"""`SecretIndex` decorator: `record_access` off the read path, coalesced per secret.

An uncached read used to wait for one `UPDATE ... SET last_accessed_at` transaction of its own.
Here `record_access` only remembers the newest access time per (user, key) in a dict and returns;
a background task writes what was collected every `interval` seconds, one write per secret
however many reads it had. `last_accessed_at` is therefore late by up to `interval` (it was
already only as precise as the cache TTL, since warm reads never record), and the audited
listing takes last access from the audit trail anyway.

Invariants: the write is forward-only in the index (`record_access` never moves the time back), so
a flush racing a newer direct write can't lose it; a failed flush puts its batch back (newest time
wins) and is tried again at the next tick; `close()` flushes what is left. Nothing here holds a
value: only user ids, keys and timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from domain.ports import SecretIndex
from domain.secrets import SecretRecord

log = logging.getLogger("mirage.index.access")

DEFAULT_FLUSH_INTERVAL_SECONDS = 1.0
# Past this many pending secrets a flush is started at once instead of waiting for the tick.
_EARLY_FLUSH_AT = 5_000


class BatchedAccessIndex:
    """Implements `domain.ports.SecretIndex` by delegation; only `record_access` is deferred."""

    def __init__(self, inner: SecretIndex, *, interval: float = DEFAULT_FLUSH_INTERVAL_SECONDS) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._inner = inner
        self._interval = interval
        self._pending: dict[tuple[str, str], datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.flushed = 0  # secrets written, for tests and metrics

    @property
    def inner(self) -> SecretIndex:
        return self._inner

    def __getattr__(self, name: str) -> object:
        # Anything beyond the port (lifecycle queries, close, ...) goes to the wrapped index.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def record_access(self, user_id: str, key: str, at: datetime) -> None:
        if self._closed:
            await self._inner.record_access(user_id, key, at)
            return
        slot = (user_id, key)
        known = self._pending.get(slot)
        if known is None or known < at:
            self._pending[slot] = at
        if self._task is None:  # started lazily, so it runs on the serving loop
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mirage-access-flusher")
        if len(self._pending) >= _EARLY_FLUSH_AT:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything collected so far (the loop calls it; tests and `close` may too)."""
        batch, self._pending = self._pending, {}
        for index, ((user_id, key), at) in enumerate(batch.items()):
            try:
                await self._inner.record_access(user_id, key, at)
            except Exception as exc:  # the database is away: keep the rest for the next tick
                for slot, when in list(batch.items())[index:]:
                    known = self._pending.get(slot)
                    if known is None or known < when:
                        self._pending[slot] = when
                log.warning("last-access flush failed (%s); %d kept for later", type(exc).__name__, self.pending)
                return
            self.flushed += 1

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            if self._pending:
                await self.flush()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await self.flush()

    # -- the rest of the port, passed through ---------------------------------------------------

    async def upsert(self, record: SecretRecord) -> None:
        await self._inner.upsert(record)

    async def get(self, user_id: str, key: str) -> SecretRecord | None:
        return await self._inner.get(user_id, key)

    async def list(
        self,
        user_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> list[SecretRecord]:
        return await self._inner.list(user_id, secret_type=secret_type, tags=tags, query=query)

    async def mark_deleted(self, user_id: str, key: str, at: datetime) -> None:
        # A pending access may still be flushed after this: harmless, record_access only moves
        # last_accessed_at and never revives a deleted row.
        await self._inner.mark_deleted(user_id, key, at)
