"""Ports: what the services need from the outside world, in domain terms only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.secrets import SecretRecord, VaultEntry, VaultMetadata
from domain.values import Principal, SecretValue


@dataclass(frozen=True, slots=True)
class VaultHealth:
    reachable: bool
    initialized: bool = False
    sealed: bool = True
    version: str | None = None


class SecretVault(Protocol):
    """Versioned secret storage (Vault KV v2). Paths are relative to the mount.

    Raises `SecretNotFound` when nothing readable is there, `VersionNotFound`/`VersionGone` for a
    missing or deleted version, `VersionConflict` when a check-and-set write loses,
    `VaultUnavailable` when Vault can't answer and `VaultRefused` when it says no.
    """

    async def read(self, path: str, version: int | None = None) -> VaultEntry: ...

    async def read_metadata(self, path: str) -> VaultMetadata | None: ...

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        """Write a new version if the current version is `cas` (0: the secret must not exist yet)."""
        ...

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None: ...

    async def soft_delete(self, path: str) -> None:
        """Delete the newest version's data; history stays for audit and rollback."""
        ...

    async def undelete(self, path: str, version: int) -> None:
        """Make a soft-deleted version readable again."""
        ...

    async def destroy(self, path: str) -> None:
        """Remove every version and the metadata for good (KV v2 metadata delete); no-op if absent."""
        ...

    async def health(self) -> VaultHealth: ...


class VaultSessions(Protocol):
    """The Vault a principal's operations run against: one shared service identity, or the
    principal's own Vault token, so that Vault's policies enforce isolation as well."""

    async def for_principal(self, principal: Principal) -> SecretVault: ...


class SecretIndex(Protocol):
    """The per-user index of secrets (metadata only, never values)."""

    async def upsert(self, record: SecretRecord) -> None: ...

    async def get(self, user_id: str, key: str) -> SecretRecord | None: ...

    async def list(
        self,
        user_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> list[SecretRecord]:
        """Live (not deleted) secrets of one user, by key; `tags` must all be present."""
        ...

    async def mark_deleted(self, user_id: str, key: str, at: datetime) -> None: ...

    async def record_access(self, user_id: str, key: str, at: datetime) -> None: ...


class UserDirectory(Protocol):
    """The users table: who is on Vault, and where their provider tokens came from."""

    async def ensure(self, user_id: str) -> None:
        """Create the user's row on first use; a no-op afterwards."""
        ...


class IdentityVerifier(Protocol):
    """Turns a bearer token into a verified `Principal`, or raises `NotAuthenticated`."""

    def verify(self, token: str) -> Principal: ...


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
