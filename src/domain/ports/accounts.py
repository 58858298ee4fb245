"""Ports: The users' provider columns and their environments (metadata only)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.credentials import EnvironmentRecord, RailwayTarget, TokenSourceCounts


class EnvironmentRegistry(Protocol):
    """The environments of each user the service knows (metadata only, never values)."""

    async def ensure(self, user_id: str, env_id: str) -> None:
        """Record the environment on first use; a no-op afterwards."""
        ...

    async def get(self, user_id: str, env_id: str) -> EnvironmentRecord | None: ...

    async def set_railway_target(self, user_id: str, env_id: str, target: RailwayTarget) -> None: ...

    async def count(self, user_id: str) -> int: ...


class UserAccounts(Protocol):
    """The users table's provider columns: where each user's Railway token comes from."""

    async def set_railway_source(
        self, user_id: str, source: str | None, *, validated_at: datetime | None = None
    ) -> None:
        """Set (or clear, with None) the token source; creates the user's row if needed."""
        ...

    async def mark_env_fallback(self, user_id: str) -> None:
        """Record `env` as the source unless the user already has one."""
        ...

    async def railway_source(self, user_id: str) -> str | None: ...

    async def set_github_validated(self, user_id: str, at: datetime | None) -> None: ...

    async def token_sources(self) -> TokenSourceCounts: ...

    async def user_ids(self) -> list[str]: ...
