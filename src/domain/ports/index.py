"""Ports: The metadata index of secrets and the users table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.secrets import SecretRecord


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
