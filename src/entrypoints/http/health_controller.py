"""Liveness and Vault health."""

from __future__ import annotations

from dataclasses import asdict

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from domain.values import Principal
from entrypoints.http import schemas
from entrypoints.http.responses import PROBLEM_RESPONSES


@get("/healthz", summary="Liveness: the process serves requests", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/readyz",
    summary="Readiness: Vault reachable and unsealed, database migrated (503 otherwise)",
    tags=["health"],
)
async def readyz(request: Request) -> Response[dict[str, object]]:
    report = await request.app.state.container.health.report()
    body = {
        "ready": report.ready,
        "vault": {"reachable": report.vault.reachable, "sealed": report.vault.sealed},
        "database": {"reachable": report.database.reachable, "migrated": report.database.migrated},
    }
    return Response(body, status_code=200 if report.ready else 503)


class SecretsHealthController(Controller):
    path = "/api/v1/secrets/health"
    tags = ["health"]

    @get("/", summary="Vault, database, cache and circuit breaker state", responses=PROBLEM_RESPONSES)
    async def vault_health(self, request: Request, principal: NamedDependency[Principal]) -> schemas.VaultHealthRead:
        report = await request.app.state.container.health.report()
        return schemas.VaultHealthRead(
            vault_reachable=report.vault.reachable,
            sealed=report.vault.sealed,
            initialized=report.vault.initialized,
            version=report.vault.version,
            ready=report.ready,
            database=schemas.DatabaseHealthRead(**asdict(report.database)),
            cache=schemas.CacheHealthRead(**asdict(report.cache)),
            circuit_breaker=schemas.BreakerHealthRead(**asdict(report.breaker)),
            vault_sessions=_sessions(request.app.state.container.vaults),
        )


def _sessions(vaults) -> schemas.VaultSessionsRead | None:
    stats = getattr(vaults, "stats", None)  # only the per-user (JWT) sessions keep these
    if stats is None:
        return None
    return schemas.VaultSessionsRead(
        logins=stats.logins,
        reuses=stats.reuses,
        reuse_ratio=round(stats.reuse_ratio, 4),
        mean_login_ms=round(stats.login_seconds / stats.logins * 1000, 2) if stats.logins else None,
    )
