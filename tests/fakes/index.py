"""In-memory `SecretIndex` and `UserDirectory` with the same semantics as the SQL adapters."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
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
        stored = replace(record, tags=tuple(record.tags), deleted=False)
        if existing is not None:
            stored = replace(
                stored,
                created_at=existing.created_at,
                last_accessed_at=record.last_accessed_at or existing.last_accessed_at,
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
            self.records[(user_id, key)] = replace(existing, deleted=True, updated_at=at)

    async def record_access(self, user_id: str, key: str, at: datetime) -> None:
        _check(self.available)
        existing = self.records.get((user_id, key))
        if existing is not None and (existing.last_accessed_at is None or existing.last_accessed_at < at):
            self.records[(user_id, key)] = replace(existing, last_accessed_at=at)


def _check(available: bool) -> None:
    if not available:
        raise StorageUnavailable("the metadata store did not answer")
