"""Ports for repairing the metadata index from Vault, Vault being the source of truth."""

from __future__ import annotations

from typing import Protocol

from domain.secrets import SecretRecord


class SecretCatalog(Protocol):
    """Every secret path under `users/` in Vault (listing only; metadata and values come elsewhere)."""

    async def paths(self) -> list[str]: ...


class IndexRepair(Protocol):
    async def users(self) -> list[str]: ...

    async def records(self, user_id: str) -> list[SecretRecord]:
        """Every row of the user, deleted ones included."""
        ...

    async def replace(self, record: SecretRecord) -> None:
        """Unconditionally: after a restore Vault may be at an older version than the index."""
        ...
