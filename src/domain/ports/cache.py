"""Ports: The cache of newest secret versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.secrets import VaultEntry


@dataclass(frozen=True, slots=True)
class CachedSecret:
    """What a warm read needs: the newest version and its metadata, as Vault last returned them."""

    entry: VaultEntry
    custom: Mapping[str, str]
    current_version: int
    updated_at: datetime
    cached_at: float  # epoch seconds; the service decides what is fresh and what is stale


class SecretCache(Protocol):
    """A cache of newest secret versions, keyed by Vault path.

    Implementations keep entries up to their retention (the longest staleness the service may
    serve during an outage) and never raise: a failing cache is a miss, not an error.
    Anything outside process memory holds values only encrypted.
    """

    async def get(self, path: str) -> CachedSecret | None: ...

    async def put(self, path: str, secret: CachedSecret) -> None: ...

    async def invalidate(self, path: str) -> None:
        """Drop the entry here and on every other instance sharing this cache."""
        ...
