"""In-memory `SecretIndex` and `UserDirectory` with the same semantics as the SQL adapters."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime

from domain.errors import StorageUnavailable
from domain.secrets import SecretRecord


class InMemoryUserDirectory:
    def __init__(self) -> None:
        self.users: set[str] = set()
        self.available = True  # flip to simulate an outage

    async def ensure(self, user_id: str) -> None:
        _check(self.available)
        self.users.add(user_id)


class InMemorySecretIndex:
    def __init__(self, users: InMemoryUserDirectory | None = None) -> None:
        # Shares the user set when given a directory, as upsert creates the user row in SQL.
        self.user_directory = users or InMemoryUserDirectory()
        self.records: dict[tuple[str, str], SecretRecord] = {}
        self.warned: dict[tuple[str, str], int | None] = {}  # the smallest warning threshold given
        self.available = True  # flip to simulate an outage

    @property
    def users(self) -> set[str]:
        return self.user_directory.users

    async def upsert(self, record: SecretRecord) -> None:
        _check(self.available)
        self.users.add(record.user_id)
        existing = self.records.get((record.user_id, record.key))
        if existing is not None and record.current_version < existing.current_version:
            return
        stored = replace(record, tags=tuple(record.tags), deleted=False, deleted_at=None, deleted_reason=None)
        if existing is not None:
            new_value = record.current_version > existing.current_version
            stored = replace(
                stored,
                created_at=existing.created_at,
                last_accessed_at=record.last_accessed_at or existing.last_accessed_at,
                version_created_at=record.version_created_at
                if new_value
                else existing.version_created_at or record.version_created_at,
            )
            same_expiry = (existing.expires_at, existing.provider_expires_at) == (
                record.expires_at,
                record.provider_expires_at,
            )
            self.warned[(record.user_id, record.key)] = (
                self.warned.get((record.user_id, record.key)) if same_expiry else None
            )
        self.records[(record.user_id, record.key)] = stored

    async def get(self, user_id: str, key: str) -> SecretRecord | None:
        _check(self.available)
        return self.records.get((user_id, key))

    async def list(
        self,
        user_id: str,
        *,
        secret_type: str | None = None,
        tags: Sequence[str] = (),
        query: str | None = None,
    ) -> builtins.list[SecretRecord]:
        _check(self.available)
        wanted = set(tags)
        return sorted(
            (
                r
                for (owner, _), r in self.records.items()
                if owner == user_id
                and not r.deleted
                and (secret_type is None or r.secret_type == secret_type)
                and (not query or query.lower() in r.key.lower())
                and wanted.issubset(r.tags)
            ),
            key=lambda r: r.key,
        )

    async def mark_deleted(self, user_id: str, key: str, at: datetime) -> None:
        _check(self.available)
        if (existing := self.records.get((user_id, key))) is not None:
            self.records[(user_id, key)] = replace(
                existing, deleted=True, updated_at=at, deleted_at=at, deleted_reason=None
            )

    async def record_access(self, user_id: str, key: str, at: datetime) -> None:
        _check(self.available)
        existing = self.records.get((user_id, key))
        if existing is not None and (existing.last_accessed_at is None or existing.last_accessed_at < at):
            self.records[(user_id, key)] = replace(existing, last_accessed_at=at)


class InMemorySecretLifecycleIndex:
    """`SecretLifecycleIndex` over an `InMemorySecretIndex`'s rows (claims are atomic: one task)."""

    def __init__(self, index: InMemorySecretIndex) -> None:
        self.index = index

    def _rows(self) -> builtins.list[SecretRecord]:
        _check(self.index.available)
        return list(self.index.records.values())

    async def expired_live(self, now: datetime, limit: int) -> builtins.list[SecretRecord]:
        rows = [r for r in self._rows() if not r.deleted and r.expires_at is not None and r.expires_at <= now]
        return sorted(rows, key=lambda r: r.expires_at or now)[:limit]

    async def past_recovery(self, cutoff: datetime, limit: int) -> builtins.list[SecretRecord]:
        rows = [
            r
            for r in self._rows()
            if r.deleted and r.deleted_reason == "expired" and r.deleted_at is not None and r.deleted_at <= cutoff
        ]
        return rows[:limit]

    async def expiring_live(self, until: datetime, limit: int) -> builtins.list[SecretRecord]:
        rows = [
            r
            for r in self._rows()
            if not r.deleted and any(at is not None and at <= until for at in (r.expires_at, r.provider_expires_at))
        ]
        return rows[:limit]

    async def count_expiring(self, now: datetime, until: datetime) -> int:
        return sum(
            1
            for r in self._rows()
            if not r.deleted
            and any(at is not None and now < at <= until for at in (r.expires_at, r.provider_expires_at))
        )

    def _set(self, user_id: str, key: str, **changes) -> None:
        self.index.records[(user_id, key)] = replace(self.index.records[(user_id, key)], **changes)

    async def claim_expired(self, user_id: str, key: str, now: datetime) -> bool:
        row = self.index.records.get((user_id, key))
        if row is None or row.deleted or row.expires_at is None or row.expires_at > now:
            return False
        self._set(user_id, key, deleted=True, deleted_at=now, deleted_reason="expired", updated_at=now)
        return True

    async def release_expired(self, user_id: str, key: str) -> None:
        row = self.index.records.get((user_id, key))
        if row is not None and row.deleted_reason == "expired":
            self._set(user_id, key, deleted=False, deleted_at=None, deleted_reason=None)

    async def claim_destroy(self, user_id: str, key: str, cutoff: datetime) -> bool:
        row = self.index.records.get((user_id, key))
        if row is None or row.deleted_reason != "expired" or row.deleted_at is None or row.deleted_at > cutoff:
            return False
        self._set(user_id, key, deleted_reason="destroying")
        return True

    async def release_destroy(self, user_id: str, key: str) -> None:
        row = self.index.records.get((user_id, key))
        if row is not None and row.deleted_reason == "destroying":
            self._set(user_id, key, deleted_reason="expired")

    async def remove(self, user_id: str, key: str) -> None:
        row = self.index.records.get((user_id, key))
        if row is not None and row.deleted_reason == "destroying":
            del self.index.records[(user_id, key)]

    async def claim_warning(self, user_id: str, key: str, threshold_days: int) -> bool:
        row = self.index.records.get((user_id, key))
        given = self.index.warned.get((user_id, key))
        if row is None or row.deleted or (given is not None and given <= threshold_days):
            return False
        self.index.warned[(user_id, key)] = threshold_days
        return True


class InMemoryJobLock:
    """A `JobLock` for one process: refuses a second holder while the first holds it."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        if name in self.held:
            yield False
            return
        self.held.add(name)
        try:
            yield True
        finally:
            self.held.discard(name)


def _check(available: bool) -> None:
    if not available:
        raise StorageUnavailable("the metadata store did not answer")
