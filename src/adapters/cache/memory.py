"""`SecretCache` in process memory: an LRU dict. Also the fake the service unit tests use.

Nothing leaves the process, so entries are kept as they are (no encryption). Entries are kept
until `cached_at + retention_seconds`; whether an entry is fresh or stale is the service's call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace

from domain.ports import CachedSecret

DEFAULT_RETENTION_SECONDS = 3600.0


class InProcessSecretCache:
    """Implements `domain.ports.SecretCache` for one process; `invalidate` drops locally only."""

    def __init__(self, retention_seconds: float = DEFAULT_RETENTION_SECONDS, max_entries: int = 10_000) -> None:
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._retention = float(retention_seconds)
        self._max_entries = max_entries
        self._entries: OrderedDict[str, CachedSecret] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _expired(self, secret: CachedSecret) -> bool:
        return secret.cached_at + self._retention <= time.time()

    async def get(self, path: str) -> CachedSecret | None:
        secret = self._entries.get(path)
        if secret is None:
            return None
        if self._expired(secret):
            del self._entries[path]
            return None
        self._entries.move_to_end(path)
        return secret

    async def put(self, path: str, secret: CachedSecret) -> None:
        if self._expired(secret):
            self._entries.pop(path, None)
            return
        # Copy the mutable mappings so a caller changing its dict can't change the cached entry.
        self._entries[path] = replace(
            secret, entry=replace(secret.entry, data=dict(secret.entry.data)), custom=dict(secret.custom)
        )
        self._entries.move_to_end(path)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def invalidate(self, path: str) -> None:
        self._entries.pop(path, None)

    def clear(self) -> None:
        self._entries.clear()
