"""An in-memory `SecretVault` with KV v2 semantics: versions, check-and-set, soft delete, pruning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from domain.errors import SecretNotFound, VaultUnavailable, VersionConflict, VersionGone, VersionNotFound
from domain.ports import VaultHealth
from domain.secrets import VERSIONS_KEPT, VaultEntry, VaultMetadata, VersionInfo
from domain.values import SecretValue

MAX_VERSIONS = VERSIONS_KEPT


@dataclass
class _Stored:
    versions: dict[int, tuple[VersionInfo, dict[str, SecretValue] | None]] = field(default_factory=dict)
    current: int = 0
    custom: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class InMemorySecretVault:
    def __init__(self) -> None:
        self.paths: dict[str, _Stored] = {}
        self.available = True  # flip to simulate an outage
        self.writes = 0

    def _check(self) -> None:
        if not self.available:
            raise VaultUnavailable("the secret store did not answer")

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        self._check()
        stored = self.paths.get(path)
        if stored is None:
            raise SecretNotFound("no secret is stored under this key")
        number = stored.current if version is None else version
        if number not in stored.versions:
            if version is None:
                raise SecretNotFound("no secret is stored under this key")
            raise VersionNotFound(f"version {version} does not exist")
        info, data = stored.versions[number]
        if data is None or not info.readable:
            if version is None:
                raise SecretNotFound("no secret is stored under this key")
            raise VersionGone(f"version {version} was deleted")
        return VaultEntry(data=dict(data), version=number, created_at=info.created_at, custom=dict(stored.custom))

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        self._check()
        stored = self.paths.get(path)
        if stored is None:
            return None
        return VaultMetadata(
            current_version=stored.current,
            oldest_version=min(stored.versions) if stored.versions else 0,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            versions=tuple(info for _, (info, _) in sorted(stored.versions.items())),
            custom=dict(stored.custom),
        )

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        self._check()
        stored = self.paths.setdefault(path, _Stored())
        if cas != stored.current:
            raise VersionConflict(f"the secret changed since version {cas}")
        now = datetime.now(UTC)
        stored.current += 1
        stored.versions[stored.current] = (VersionInfo(version=stored.current, created_at=now), dict(data))
        for old in sorted(stored.versions)[:-MAX_VERSIONS]:
            del stored.versions[old]
        stored.updated_at = now
        self.writes += 1
        return VaultEntry(data=dict(data), version=stored.current, created_at=now, custom=dict(stored.custom))

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        self._check()
        stored = self.paths.setdefault(path, _Stored())
        stored.custom = dict(custom)
        stored.updated_at = datetime.now(UTC)

    async def soft_delete(self, path: str) -> None:
        self._check()
        stored = self.paths.get(path)
        if stored is None or stored.current not in stored.versions:
            raise SecretNotFound("no secret is stored under this key")
        info, data = stored.versions[stored.current]
        # Like KV v2: the data stays until destroyed, unreadable while deleted, back on undelete.
        stored.versions[stored.current] = (replace(info, deleted_at=datetime.now(UTC)), data)

    async def undelete(self, path: str, version: int) -> None:
        self._check()
        stored = self.paths.get(path)
        if stored is None:
            raise SecretNotFound("no secret is stored under this key")
        if version in stored.versions:
            info, data = stored.versions[version]
            stored.versions[version] = (replace(info, deleted_at=None), data)

    async def destroy(self, path: str) -> None:
        self._check()
        self.paths.pop(path, None)

    async def health(self) -> VaultHealth:
        if not self.available:
            return VaultHealth(reachable=False)
        return VaultHealth(reachable=True, initialized=True, sealed=False, version="in-memory")


class OneVaultForEveryone:
    """`VaultSessions` for unit tests: every principal gets the same vault (the token mode)."""

    def __init__(self, vault) -> None:
        self.vault = vault

    async def for_principal(self, principal):
        return self.vault
