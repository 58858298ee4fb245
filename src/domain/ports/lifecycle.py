"""Ports: the secrets' lifecycle across users (TTL expiry, recovery window, warnings) and the lock
that lets one instance at a time run the cleanup pass."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from domain.secrets import SecretRecord


class SecretLifecycleIndex(Protocol):
    """The index across users, as the cleanup pass needs it.

    Each `claim_*` succeeds for exactly one caller however many race for the same row, so that
    several instances running the pass never act on one secret twice.
    """

    async def expired_live(self, now: datetime, limit: int) -> list[SecretRecord]:
        """Live secrets whose TTL expiry is at or before `now`, oldest expiry first."""
        ...

    async def past_recovery(self, cutoff: datetime, limit: int) -> list[SecretRecord]:
        """Secrets the pass deleted for expiry at or before `cutoff` (their recovery window is over)."""
        ...

    async def expiring_live(self, until: datetime, limit: int) -> list[SecretRecord]:
        """Live secrets with a TTL or provider expiry at or before `until`."""
        ...

    async def count_expiring(self, now: datetime, until: datetime) -> int: ...

    async def claim_expired(self, user_id: str, key: str, now: datetime) -> bool:
        """Mark an expired live secret deleted for expiry; False if someone else already did."""
        ...

    async def release_expired(self, user_id: str, key: str) -> None:
        """Undo `claim_expired` after Vault refused the delete (the next pass tries again)."""
        ...

    async def claim_destroy(self, user_id: str, key: str, cutoff: datetime) -> bool: ...

    async def release_destroy(self, user_id: str, key: str) -> None: ...

    async def remove(self, user_id: str, key: str) -> None:
        """Drop a row claimed for destruction."""
        ...

    async def claim_warning(self, user_id: str, key: str, threshold_days: int) -> bool:
        """Record that the `threshold_days` warning was given; False if it (or a closer one) was."""
        ...


class JobLock(Protocol):
    """A lock across every instance of the service (a PostgreSQL advisory lock), for jobs one
    instance at a time should run. `hold` yields whether this caller got it; it never waits."""

    def hold(self, name: str) -> AbstractAsyncContextManager[bool]: ...
