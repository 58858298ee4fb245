"""`SecretService` with every operation on the audit trail, and "last accessed" from the trail.

Used by the generic secrets API. The provider services (Railway, GitHub, Docker, environments,
sync, migration) record their own user-level event (store, rotate, validate, export, ...) and run
on `unaudited()` underneath, so that one user operation leaves exactly one event.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain.audit import AuditAction
from domain.secrets import SecretMetadata, SecretRecord, VaultMetadata
from domain.values import Principal, SecretValue, is_valid_user_id
from services.audit_trail import AuditTrail
from services.secret_service import UNSET, Rollback, SecretService, SecretView, StoredVersion, VersionHistory, _Unset


class AuditedSecretService(SecretService):
    def __init__(self, *, trail: AuditTrail, **dependencies: Any) -> None:
        super().__init__(**dependencies)
        self._trail = trail
        self._dependencies = dependencies

    def unaudited(self) -> SecretService:
        """The same service without the trail, for callers that record the operation themselves.

        It shares this service's cache and its write generations, so a write through one never
        lets a racing read through the other put an old value back in the cache.
        """
        plain = SecretService(**self._dependencies)
        plain._generations = self._generations
        return plain

    async def store_fields(
        self,
        principal: Principal,
        key: str,
        data: Mapping[str, SecretValue],
        *,
        amend: Callable[[SecretMetadata], SecretMetadata] | None = None,
        cas: int | None = None,
    ) -> tuple[StoredVersion, SecretMetadata]:
        async with self._trail.record(principal, AuditAction.UPDATE, key=key) as note:
            stored, metadata = await super().store_fields(principal, key, data, amend=amend, cas=cas)
            note.version, note.secret_type = stored.version, metadata.secret_type
            note.action = AuditAction.CREATE if stored.previous_version == 0 else AuditAction.UPDATE
        return stored, metadata

    async def amend_metadata(
        self, principal: Principal, key: str, amend: Callable[[SecretMetadata], SecretMetadata]
    ) -> tuple[SecretMetadata, VaultMetadata]:
        async with self._trail.record(principal, AuditAction.METADATA_UPDATE, key=key) as note:
            metadata, current = await super().amend_metadata(principal, key, amend)
            note.version, note.secret_type = current.current_version, metadata.secret_type
        return metadata, current

    async def store(self, principal: Principal, *, key: str, value: SecretValue, **options: Any) -> StoredVersion:
        async with self._trail.record(principal, AuditAction.UPDATE, key=key) as note:
            stored = await super().store(principal, key=key, value=value, **options)
            note.version = stored.version
            note.action = AuditAction.CREATE if stored.previous_version == 0 else AuditAction.UPDATE
        return stored

    async def get(self, principal: Principal, key: str) -> SecretView:
        async with self._trail.record(principal, AuditAction.READ, key=key) as note:
            view = await super().get(principal, key)
            note.version, note.secret_type = view.version, view.metadata.secret_type
        return view

    async def get_version(self, principal: Principal, key: str, version: int) -> SecretView:
        async with self._trail.record(principal, AuditAction.READ_VERSION, key=key) as note:
            note.version = version
            view = await super().get_version(principal, key, version)
            note.secret_type = view.metadata.secret_type
        return view

    async def delete(self, principal: Principal, key: str) -> int:
        async with self._trail.record(principal, AuditAction.DELETE, key=key):
            return await super().delete(principal, key)

    async def rollback(self, principal: Principal, key: str, *, to_version: int) -> Rollback:
        async with self._trail.record(principal, AuditAction.ROLLBACK, key=key) as note:
            done = await super().rollback(principal, key, to_version=to_version)
            note.version = done.new_version
        return done

    async def versions(self, principal: Principal, key: str) -> VersionHistory:
        async with self._trail.record(principal, AuditAction.LIST, key=key):
            return await super().versions(principal, key)

    async def get_metadata(self, principal: Principal, key: str) -> tuple[SecretMetadata, VaultMetadata]:
        async with self._trail.record(principal, AuditAction.METADATA_READ, key=key) as note:
            metadata, current = await super().get_metadata(principal, key)
            note.version, note.secret_type = current.current_version, metadata.secret_type
        return metadata, current

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
        async with self._trail.record(principal, AuditAction.METADATA_UPDATE, key=key) as note:
            metadata, current = await super().update_metadata(
                principal,
                key,
                tags=tags,
                secret_type=secret_type,
                description=description,
                ttl=ttl,
                expires_at=expires_at,
                rotate_every=rotate_every,
            )
            note.secret_type = metadata.secret_type
        return metadata, current

    async def list(
        self,
        principal: Principal,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> list[SecretRecord]:
        async with self._trail.record(principal, AuditAction.LIST):
            records = await super().list(principal, secret_type=secret_type, tags=tags, query=query)
            accessed = await self._trail.last_access(principal.user_id, [r.key for r in records])
        return [replace(r, last_accessed_at=accessed.get(r.key, r.last_accessed_at)) for r in records]

    async def list_for_owner(
        self,
        admin: Principal,
        owner_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> builtins.list[SecretRecord]:
        async with self._trail.record(admin, AuditAction.LIST, subject_user_id=_subject(owner_id, admin)):
            records = await super().list_for_owner(admin, owner_id, secret_type=secret_type, tags=tags, query=query)
            accessed = await self._trail.last_access(owner_id, [r.key for r in records])
        return [replace(r, last_accessed_at=accessed.get(r.key, r.last_accessed_at)) for r in records]

    async def revoke(self, admin: Principal, owner_id: str, key: str) -> int:
        async with self._trail.record(admin, AuditAction.DELETE, key=key, subject_user_id=_subject(owner_id, admin)):
            return await super().revoke(admin, owner_id, key)


def _subject(owner_id: str, actor: Principal) -> str:
    # A malformed owner id is refused by the operation; the event then names the actor instead.
    return owner_id if is_valid_user_id(owner_id) else actor.user_id
