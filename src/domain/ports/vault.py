"""Ports: Versioned secret storage and whose Vault identity runs an operation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from domain.secrets import VaultEntry, VaultMetadata
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
