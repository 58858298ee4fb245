"""What the service can tell about its own health, for operators and orchestrators."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ports import VaultHealth


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    reachable: bool
    migrated: bool = False  # the schema is at the newest migration this code knows
    revision: str | None = None
    expected_revision: str | None = None


@dataclass(frozen=True, slots=True)
class CacheHealth:
    kind: str  # "redis" (shared between instances) or "in-process"
    enabled: bool
    invalidation_listener: bool | None = None  # Redis only: is pub/sub invalidation connected?


@dataclass(frozen=True, slots=True)
class BreakerHealth:
    state: str  # closed, open, half_open
    consecutive_failures: int
    retry_after: int | None


@dataclass(frozen=True, slots=True)
class HealthReport:
    vault: VaultHealth
    database: DatabaseHealth
    cache: CacheHealth
    breaker: BreakerHealth

    @property
    def ready(self) -> bool:
        """Can serve: Vault answers and is unsealed, and the database is migrated."""
        return self.vault.reachable and not self.vault.sealed and self.database.reachable and self.database.migrated
