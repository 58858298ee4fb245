"""Liveness and Vault health."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from domain.values import Principal
from entrypoints.http import schemas
from entrypoints.http.responses import PROBLEM_RESPONSES


@get("/healthz", summary="Liveness: the process serves requests", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


class SecretsHealthController(Controller):
    path = "/api/v1/secrets/health"
    tags = ["health"]

    @get("/", summary="Vault connectivity and seal state", responses=PROBLEM_RESPONSES)
    async def vault_health(self, request: Request, principal: NamedDependency[Principal]) -> schemas.VaultHealthRead:
        health = await request.app.state.container.vault.health()
        return schemas.VaultHealthRead(
            vault_reachable=health.reachable,
            sealed=health.sealed,
            initialized=health.initialized,
            version=health.version,
        )
