"""`/api/v1/admin/migration-status`: how far users have moved off the shared `RAILWAY_API_TOKEN`."""

from __future__ import annotations

from litestar import Controller, Request, get

from entrypoints.http import provider_schemas as s
from entrypoints.http.provider_common import (
    PROVIDER_DEPENDENCIES,
    RESPONSES,
    Caller,
    Providers,
)


class MigrationStatusController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    dependencies = PROVIDER_DEPENDENCIES

    @get(
        "/migration-status",
        summary="How many users are on Vault tokens vs the shared env token (admins)",
        responses=RESPONSES,
    )
    async def migration_status(
        self, request: Request, principal: Caller, providers: Providers
    ) -> s.MigrationStatusRead:
        counts = await providers.migration.status(principal)
        settings = request.app.state.container.settings.providers
        return s.MigrationStatusRead(
            vault_enabled=settings.secrets_vault_enabled,
            env_token_configured=settings.railway_api_token is not None,
            users=counts.total,
            vault=counts.vault,
            env=counts.env,
            none=counts.none,
        )
