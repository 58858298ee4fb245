"""Health: Vault, database, cache and breaker state in one report."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.health import BreakerHealth, CacheHealth, DatabaseHealth, HealthReport
from domain.ports import SecretVault, VaultHealth

# A health check must answer even when a dependency hangs: each probe gets this long.
PROBE_TIMEOUT_SECONDS = 2.0

_T = TypeVar("_T")


class HealthService:
    def __init__(
        self,
        *,
        vault: SecretVault,
        database: Callable[[], Awaitable[DatabaseHealth]],
        cache: Callable[[], CacheHealth],
        breaker: Callable[[], BreakerHealth],
    ) -> None:
        self._vault = vault
        self._database = database
        self._cache = cache
        self._breaker = breaker

    async def report(self) -> HealthReport:
        vault, database = await asyncio.gather(
            _bounded(self._vault.health(), VaultHealth(reachable=False)),
            _bounded(self._database(), DatabaseHealth(reachable=False)),
        )
        return HealthReport(vault=vault, database=database, cache=self._cache(), breaker=self._breaker())


async def _bounded(probe: Awaitable[_T], fallback: _T) -> _T:
    try:
        return await asyncio.wait_for(probe, PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return fallback
