"""Generic secrets: store, read, list, version, roll back, delete, and their metadata."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from domain.authorization import AdminAbility, authorize
from domain.check_and_set import retry_on_conflict
from domain.errors import InvalidInput, SecretNotFound, VaultUnavailable, VersionConflict, VersionGone
from domain.lifecycle import EXPIRY_REASON, SecretExpired, expiry_from, is_expired, validate_rotate_every
from domain.ports import CachedSecret, SecretCache, SecretIndex, SecretVault, UserDirectory, VaultSessions
from domain.secrets import (
    MAX_VALUE_BYTES,
    SecretLocator,
    SecretMetadata,
    SecretRecord,
    VaultMetadata,
    VersionInfo,
    locate,
    validate_custom_key,
    validate_custom_type,
    validate_description,
    validate_filter,
    validate_tags,
    validate_value,
    validate_version,
)
from domain.values import Principal, SecretValue

# When the caller did not ask for check-and-set, a lost race is retried: Vault still refuses a
# blind overwrite, we just read the new current version and write on top of it.
# Every round of a race has a winner, so N concurrent plain writers need at most N rounds.
_UNCONDITIONAL_WRITE_ATTEMPTS = 64
_RETRY_SPREAD_SECONDS = 0.002


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoredVersion:
    key: str
    version: int
    previous_version: int


@dataclass(frozen=True, slots=True)
class SecretView:
    key: str
    value: SecretValue
    version: int
    created_at: datetime
    metadata: SecretMetadata
    current_version: int
    updated_at: datetime
    stale_seconds: float | None = None  # set when served from cache because Vault was unreachable
    fields: Mapping[str, SecretValue] = field(default_factory=dict)  # every field of the entry


@dataclass(frozen=True, slots=True)
class VersionHistory:
    key: str
    current_version: int
    versions: tuple[VersionInfo, ...]  # newest first


@dataclass(frozen=True, slots=True)
class Rollback:
    key: str
    new_version: int
    restored_from: int


class _Unset:
    pass


UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long a cached read is fresh, and how stale it may be while Vault is unreachable."""

    ttl_seconds: float = 300.0
    max_stale_seconds: float = 3600.0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0


class SecretService:
    """Every operation acts on the caller's own secrets: the path comes from the verified principal."""

    def __init__(
        self,
        *,
        vaults: VaultSessions,
        index: SecretIndex,
        users: UserDirectory,
        cache: SecretCache,
        cache_policy: CachePolicy = CachePolicy(),
        clock: Callable[[], datetime] = utc_now,
        epoch_clock: Callable[[], float] = time.time,  # cache ages are shared between instances
    ) -> None:
        self._vaults = vaults
        self._index = index
        self._users = users
        self._cache = cache
        self._policy = cache_policy
        self._clock = clock
        self._now = epoch_clock
        # Bumped on every local write, so a read that raced a write doesn't put the old value back.
        self._generations: dict[str, int] = {}

    # -- writes -------------------------------------------------------------------------------

    async def store(
        self,
        principal: Principal,
        *,
        key: str,
        value: SecretValue,
        tags: Sequence[str] | None = None,
        secret_type: str | None = None,
        description: str | None = None,
        cas: int | None = None,
        ttl: int | str | None = None,
        expires_at: datetime | None = None,
        rotate_every: int | None = None,
    ) -> StoredVersion:
        validate_custom_key(key)
        validate_value(value)
        tags = validate_tags(tags) if tags is not None else None
        secret_type = validate_custom_type(secret_type) if secret_type is not None else None
        description = validate_description(description) if description is not None else None
        expiry = expiry_from(ttl=ttl, expires_at=expires_at, now=self._clock())
        rotate_every = validate_rotate_every(rotate_every) if rotate_every is not None else None
        locator = locate(principal.user_id, key)

        vault = await self._vaults.for_principal(principal)

        def amend(metadata: SecretMetadata) -> SecretMetadata:
            return replace(
                metadata,
                secret_type=secret_type or metadata.secret_type,
                tags=tags if tags is not None else metadata.tags,
                description=description if description is not None else metadata.description,
                # A new value keeps a pending expiry, not one that has passed (that would be 410 at once).
                expires_at=expiry or self._pending(metadata.expires_at),
                rotate_every_days=rotate_every if rotate_every is not None else metadata.rotate_every_days,
            )

        written, previous, _ = await self._write_whole(
            principal, vault, locator, {locator.value_field: value}, amend=amend, cas=cas
        )
        return StoredVersion(key=key, version=written, previous_version=previous)

    async def _write_whole(
        self,
        principal: Principal,
        vault: SecretVault,
        locator: SecretLocator,
        data: Mapping[str, SecretValue],
        *,
        amend: Callable[[SecretMetadata], SecretMetadata] | None,
        cas: int | None,
    ) -> tuple[int, int, SecretMetadata]:
        """Value, metadata and index row, ordered and undone so that a failure leaves nothing visible.

        Everything was validated before this is called.
        - A new path: the value first (Vault records the create), then its metadata and index
          row; if either fails, the new version is soft-deleted, so no readable secret is
          missing from the list.
        - An existing path: changed metadata first, then the value; a failed value write puts the
          previous metadata back, and a failed index write after a first live version (a revived
          secret) soft-deletes it. A later version of a listed secret stays written: it is listed
          already, and the next write brings its index row up to date.
        """
        async with self._changing(locator):
            current = await vault.read_metadata(locator.path)
            current_version = current.current_version if current else 0
            if cas is not None and cas != current_version:  # before any write
                raise VersionConflict(
                    f"the secret is at version {current_version}, not {cas}", current_version=current_version
                )
            metadata = self._metadata_or_new(locator, current)
            if amend is not None:
                metadata = amend(metadata)
            if current is None:
                _, written, previous = await self._write_data(vault, locator, data, cas=cas)
                try:
                    await vault.set_custom_metadata(locator.path, metadata.to_vault())
                    await self._record(principal, locator, metadata, written)
                except BaseException:
                    await _quietly(vault.soft_delete(locator.path))
                    raise
                return written, previous, metadata
            # Unchanged metadata is not written again: concurrent writers of a value alone then never
            # touch it, so no lost race can put an older copy back.
            changed = metadata.to_vault() != dict(current.custom)
            if changed:
                await vault.set_custom_metadata(locator.path, metadata.to_vault())
            try:
                _, written, previous = await self._write_data(vault, locator, data, cas=cas)
            except BaseException:
                if changed:
                    await _quietly(vault.set_custom_metadata(locator.path, dict(current.custom)))
                raise
            try:
                await self._record(principal, locator, metadata, written)
            except BaseException:
                if previous == 0 or not current.is_live:
                    await _quietly(vault.soft_delete(locator.path))
                raise
        return written, previous, metadata

    async def _record(
        self, principal: Principal, locator: SecretLocator, metadata: SecretMetadata, version: int
    ) -> None:
        """The user row and the index row of a written version (after the write: a refused write leaves no trace)."""
        await self._users.ensure(principal.user_id)
        await self._index_upsert(locator, metadata, version=version, updated_at=self._clock(), new_value=True)

    def _pending(self, expires_at: datetime | None) -> datetime | None:
        return None if is_expired(expires_at, self._clock()) else expires_at

    async def _write_data(
        self, vault: SecretVault, locator: SecretLocator, data: Mapping[str, SecretValue], *, cas: int | None
    ) -> tuple[SecretMetadata, int, int]:
        current: VaultMetadata | None = None
        current_version = 0

        # A caller's `cas` is checked once (a conflict is theirs to resolve); an unconditional write
        # re-reads and tries again a few times.
        async def write() -> int:
            nonlocal current, current_version
            current = await vault.read_metadata(locator.path)
            current_version = current.current_version if current else 0
            expected = cas if cas is not None else current_version
            if cas is not None and cas != current_version:
                raise VersionConflict(
                    f"the secret is at version {current_version}, not {cas}", current_version=current_version
                )
            return (await vault.write(locator.path, data, cas=expected)).version

        async def spread(attempt: int) -> None:
            # Spread the retries of writers that lost the same race, so one of them wins each round.
            await asyncio.sleep(random.uniform(0, _RETRY_SPREAD_SECONDS * (attempt + 1)))

        try:
            version = await retry_on_conflict(
                write, attempts=1 if cas is not None else _UNCONDITIONAL_WRITE_ATTEMPTS, pause=spread
            )
        except VersionConflict as conflict:
            if conflict.current_version is not None:
                raise  # the caller's cas was stale: the version it names is current
            latest = await vault.read_metadata(locator.path)
            raise VersionConflict(str(conflict), current_version=latest.current_version if latest else None) from None
        return self._metadata_or_new(locator, current), version, current_version

    def _metadata_or_new(self, locator: SecretLocator, current: VaultMetadata | None) -> SecretMetadata:
        return _decode_metadata(locator, current.custom if current else {}, self._clock())

    async def _index_upsert(
        self,
        locator: SecretLocator,
        metadata: SecretMetadata,
        *,
        version: int,
        updated_at: datetime,
        new_value: bool = False,
    ) -> None:
        await self._index.upsert(
            SecretRecord(
                user_id=locator.user_id,
                key=locator.key,
                secret_type=metadata.secret_type,
                tags=metadata.tags,
                description=metadata.description,
                created_at=metadata.created_at,
                updated_at=updated_at,
                current_version=version,
                expires_at=metadata.expires_at,
                rotate_every_days=metadata.rotate_every_days,
                version_created_at=updated_at if new_value else None,
                provider_expires_at=metadata.provider_expires_at,
            )
        )

    async def delete(self, principal: Principal, key: str) -> int:
        """Soft delete: the newest version's data goes; history stays. Returns versions kept."""
        locator = locate(principal.user_id, key)
        vault = await self._vaults.for_principal(principal)
        metadata = await self._live_metadata(vault, locator)
        async with self._changing(locator):
            await vault.soft_delete(locator.path)
            await self._index.mark_deleted(principal.user_id, key, self._clock())
        return sum(1 for v in metadata.versions if not v.destroyed)

    async def rollback(self, principal: Principal, key: str, *, to_version: int) -> Rollback:
        validate_version(to_version, field="to_version")
        locator = locate(principal.user_id, key)
        vault = await self._vaults.for_principal(principal)
        try:
            old = await vault.read(locator.path, version=to_version)
        except VersionGone:
            if not await self._deleted_for_expiry(locator):
                raise
            # The cleanup pass soft-deleted the newest version; in the recovery window it comes back.
            await vault.undelete(locator.path, to_version)
            old = await vault.read(locator.path, version=to_version)
        if locator.value_field not in old.data:
            raise VersionGone(f"version {to_version} holds no value")
        async with self._changing(locator):
            # Every field of the old version: provider secrets (docker) hold more than the value.
            metadata, written, _ = await self._write_data(vault, locator, old.data, cas=None)
            if is_expired(metadata.expires_at, self._clock()):
                # Restoring an expired secret (inside the recovery window) restores it for good.
                metadata = replace(metadata, expires_at=None)
                await vault.set_custom_metadata(locator.path, metadata.to_vault())
            await self._index_upsert(locator, metadata, version=written, updated_at=self._clock(), new_value=True)
        return Rollback(key=key, new_version=written, restored_from=to_version)

    async def store_fields(
        self,
        principal: Principal,
        key: str,
        data: Mapping[str, SecretValue],
        *,
        amend: Callable[[SecretMetadata], SecretMetadata] | None = None,
        cas: int | None = None,
    ) -> tuple[StoredVersion, SecretMetadata]:
        """Write a provider secret (`railway`, `github`, `docker/{registry}`) whole, with its metadata.

        For the provider services, which validate the value first: the key is not a custom key,
        and `amend` sets what the provider told them (last_validated, token kind, scopes, ...).
        """
        locator = locate(principal.user_id, key)
        if locator.is_custom or locator.value_field not in data:
            raise InvalidInput("not a provider secret", field="key")
        for value in data.values():
            if value.byte_length() > MAX_VALUE_BYTES:
                validate_value(value)
        vault = await self._vaults.for_principal(principal)

        def finish(metadata: SecretMetadata) -> SecretMetadata:
            if amend is not None:
                metadata = amend(metadata)
            return replace(metadata, expires_at=self._pending(metadata.expires_at))  # as `store` does

        written, previous, metadata = await self._write_whole(principal, vault, locator, data, amend=finish, cas=cas)
        return StoredVersion(key=key, version=written, previous_version=previous), metadata

    async def amend_metadata(
        self, principal: Principal, key: str, amend: Callable[[SecretMetadata], SecretMetadata]
    ) -> tuple[SecretMetadata, VaultMetadata]:
        """Change a live secret's metadata (e.g. `last_validated`) without a new value version."""
        locator = locate(principal.user_id, key)
        vault = await self._vaults.for_principal(principal)
        current = await self._live_metadata(vault, locator)
        metadata = amend(self._metadata_or_new(locator, current))
        async with self._changing(locator):
            await vault.set_custom_metadata(locator.path, metadata.to_vault())
            await self._index_upsert(locator, metadata, version=current.current_version, updated_at=self._clock())
        return metadata, await vault.read_metadata(locator.path) or current

    async def update_metadata(
        self,
        principal: Principal,
        key: str,
        *,
        tags: Sequence[str] | _Unset = UNSET,
        secret_type: str | _Unset = UNSET,
        description: str | _Unset | None = UNSET,
        ttl: int | str | _Unset | None = UNSET,
        expires_at: datetime | _Unset | None = UNSET,
        rotate_every: int | _Unset | None = UNSET,
    ) -> tuple[SecretMetadata, VaultMetadata]:
        """Change what is given; `ttl`/`expires_at` None (either) clears the expiry."""
        if not isinstance(ttl, _Unset) and not isinstance(expires_at, _Unset) and (ttl, expires_at) != (None, None):
            raise InvalidInput("give either ttl or expires_at, not both", field="ttl")
        locator = locate(principal.user_id, key)
        vault = await self._vaults.for_principal(principal)
        current = await self._live_metadata(vault, locator)
        metadata = self._metadata_or_new(locator, current)
        if not isinstance(tags, _Unset):
            metadata = replace(metadata, tags=validate_tags(tags))
        if not isinstance(secret_type, _Unset):
            if not locator.is_custom:
                raise InvalidInput("a provider secret keeps the type its endpoint set", field="type")
            metadata = replace(metadata, secret_type=validate_custom_type(secret_type))
        if not isinstance(description, _Unset):
            metadata = replace(
                metadata, description=validate_description(description) if description is not None else None
            )
        if not isinstance(ttl, _Unset) or not isinstance(expires_at, _Unset):
            expiry = expiry_from(
                ttl=None if isinstance(ttl, _Unset) else ttl,
                expires_at=None if isinstance(expires_at, _Unset) else expires_at,
                now=self._clock(),
            )
            metadata = replace(metadata, expires_at=expiry)
        if not isinstance(rotate_every, _Unset):
            metadata = replace(
                metadata, rotate_every_days=validate_rotate_every(rotate_every) if rotate_every is not None else None
            )
        async with self._changing(locator):
            await vault.set_custom_metadata(locator.path, metadata.to_vault())
            await self._index_upsert(locator, metadata, version=current.current_version, updated_at=self._clock())
        return metadata, await vault.read_metadata(locator.path) or current

    async def _deleted_for_expiry(self, locator: SecretLocator) -> bool:
        record = await self._index.get(locator.user_id, locator.key)
        return record is not None and record.deleted and record.deleted_reason == EXPIRY_REASON

    @asynccontextmanager
    async def _changing(self, locator: SecretLocator) -> AsyncIterator[None]:
        """Drop the cached copy after a change, even one that failed half-way (Vault may have it)."""
        try:
            yield
        finally:
            self._generations[locator.path] = self._generations.get(locator.path, 0) + 1
            await self._cache.invalidate(locator.path)

    # -- reads --------------------------------------------------------------------------------

    async def get(self, principal: Principal, key: str) -> SecretView:
        """The newest value: from cache while fresh; from a stale cache entry only if Vault is down."""
        locator = locate(principal.user_id, key)
        return self._unexpired(await self._get(principal, locator))

    def _unexpired(self, view: SecretView) -> SecretView:
        """The value only while the secret's expiry has not passed (checked on the metadata the
        read already has, cached or fresh: no extra call)."""
        if is_expired(view.metadata.expires_at, self._clock()):
            raise SecretExpired("this secret has expired; its value is no longer served (a rollback restores it)")
        return view

    async def _get(self, principal: Principal, locator: SecretLocator) -> SecretView:
        if not self._policy.enabled:
            return self._view(locator, await self._read_vault(principal, locator, version=None))
        generation = self._generations.get(locator.path, 0)
        cached = await self._cache.get(locator.path)
        age = self._now() - cached.cached_at if cached is not None else 0.0
        if cached is not None and age < self._policy.ttl_seconds:
            return self._view(locator, cached)
        try:
            snapshot = await self._read_vault(principal, locator, version=None)
        except VaultUnavailable:
            if cached is not None and age < self._policy.max_stale_seconds:
                return self._view(locator, cached, stale_seconds=age)
            raise
        if self._generations.get(locator.path, 0) == generation:
            await self._cache.put(locator.path, snapshot)
        return self._view(locator, snapshot)

    async def get_version(self, principal: Principal, key: str, version: int) -> SecretView:
        validate_version(version)
        locator = locate(principal.user_id, key)
        return self._unexpired(self._view(locator, await self._read_vault(principal, locator, version=version)))

    async def _read_vault(self, principal: Principal, locator: SecretLocator, *, version: int | None) -> CachedSecret:
        """One Vault call: the data read carries the version and the custom metadata.

        The newest version's own creation time is its `updated_at`, and for an older version the
        current version comes from the index; a second Vault call (metadata) is made only when
        the adapter gave no custom metadata or the index has no row for the secret.
        """
        vault = await self._vaults.for_principal(principal)
        entry = await vault.read(locator.path, version=version)
        if locator.value_field not in entry.data:
            raise SecretNotFound("no value is stored under this key")
        custom = entry.custom
        current_version, updated_at = entry.version, entry.created_at
        if version is not None:
            record = await self._index.get(locator.user_id, locator.key)
            if record is not None:
                current_version, updated_at = record.current_version, record.updated_at
            else:
                custom = None  # not indexed (written around the service): ask Vault
        if custom is None:
            current = await vault.read_metadata(locator.path)
            if current is not None:
                custom, current_version, updated_at = current.custom, current.current_version, current.updated_at
        # Recorded on Vault reads only, so "last accessed" is precise to the cache TTL and the
        # warm path stays free of database writes (the index may batch it: adapters.db.access_batch).
        await self._index.record_access(locator.user_id, locator.key, self._clock())
        return CachedSecret(
            entry=entry,
            custom=dict(custom or {}),
            current_version=current_version,
            updated_at=updated_at,
            cached_at=self._now(),
        )

    def _view(self, locator: SecretLocator, secret: CachedSecret, *, stale_seconds: float | None = None) -> SecretView:
        return SecretView(
            key=locator.key,
            value=secret.entry.data[locator.value_field],
            version=secret.entry.version,
            created_at=secret.entry.created_at,
            metadata=_decode_metadata(locator, secret.custom, secret.entry.created_at),
            current_version=secret.current_version,
            updated_at=secret.updated_at,
            stale_seconds=stale_seconds,
            fields=dict(secret.entry.data),
        )

    async def get_metadata(self, principal: Principal, key: str) -> tuple[SecretMetadata, VaultMetadata]:
        locator = locate(principal.user_id, key)
        current = await self._live_metadata(await self._vaults.for_principal(principal), locator)
        return self._metadata_or_new(locator, current), current

    async def versions(self, principal: Principal, key: str) -> VersionHistory:
        locator = locate(principal.user_id, key)
        vault = await self._vaults.for_principal(principal)
        metadata = await vault.read_metadata(locator.path)
        if metadata is None:
            raise SecretNotFound("no secret is stored under this key")
        newest_first = tuple(sorted(metadata.versions, key=lambda v: v.version, reverse=True))
        return VersionHistory(key=key, current_version=metadata.current_version, versions=newest_first)

    async def list(
        self,
        principal: Principal,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> list[SecretRecord]:
        return await self._index.list(principal.user_id, **_checked_filters(secret_type, tags, query))

    # -- admins: metadata and revocation, never values ------------------------------------------

    async def list_for_owner(
        self,
        admin: Principal,
        owner_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> builtins.list[SecretRecord]:
        authorize(admin, AdminAbility.LIST_USER_SECRETS)
        locate(owner_id, "github")  # validates the owner id before it reaches any query
        return await self._index.list(owner_id, **_checked_filters(secret_type, tags, query))

    async def revoke(self, admin: Principal, owner_id: str, key: str) -> int:
        """Soft-delete another user's secret, forcing them to configure it again."""
        authorize(admin, AdminAbility.REVOKE_USER_SECRET)
        locator = locate(owner_id, key)
        vault = await self._vaults.for_principal(admin)
        metadata = await self._live_metadata(vault, locator)
        async with self._changing(locator):
            await vault.soft_delete(locator.path)
            await self._index.mark_deleted(owner_id, key, self._clock())
        return sum(1 for v in metadata.versions if not v.destroyed)

    async def _live_metadata(self, vault: SecretVault, locator: SecretLocator) -> VaultMetadata:
        metadata = await vault.read_metadata(locator.path)
        if metadata is None or not metadata.is_live:
            raise SecretNotFound("no secret is stored under this key")
        return metadata


def _checked_filters(secret_type: str | None, tags: Sequence[str], query: str | None) -> dict[str, Any]:
    """List filters as the index may receive them: bounded and printable, else `InvalidInput`."""
    return {
        "secret_type": validate_filter(secret_type, field="type"),
        "tags": [validate_filter(tag, field="tag") or "" for tag in tags],
        "query": validate_filter(query, field="q"),
    }


async def _quietly(undo: Awaitable[None]) -> None:
    """Run a compensating step; its own failure must not hide the error that made it necessary."""
    with contextlib.suppress(Exception):  # the caller re-raises the original error
        await undo


def _decode_metadata(locator: SecretLocator, custom: Mapping[str, str], created_at: datetime) -> SecretMetadata:
    """Vault's custom_metadata, or defaults for a secret that has none (yet)."""
    fresh = SecretMetadata(created_by=locator.user_id, created_at=created_at, secret_type=locator.default_type.value)
    return SecretMetadata.from_vault(custom, fallback=fresh) if custom else fresh
