"""`/api/v1/secrets/railway`: store, status, validate, rotate and remove the caller's Railway token."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import JSONBody

from domain.values import SecretValue
from entrypoints.http import provider_schemas as s
from entrypoints.http.guards import PROVIDER_CALLS
from entrypoints.http.provider_common import (
    PROVIDER_DEPENDENCIES,
    RESPONSES,
    Caller,
    Providers,
)


class RailwayController(Controller):
    path = "/api/v1/secrets/railway"
    tags = ["railway"]
    dependencies = PROVIDER_DEPENDENCIES

    @post(
        "/",
        status_code=201,
        summary="Validate a Railway token with Railway, then store it",
        responses=RESPONSES,
        opt=PROVIDER_CALLS,
    )
    async def store(
        self, data: JSONBody[s.RailwayTokenCreate], principal: Caller, providers: Providers
    ) -> s.RailwayTokenStored:
        stored = await providers.railway.store(principal, SecretValue(data.token))
        return s.RailwayTokenStored(
            success=True,
            validated=stored.validated,
            stored_at=stored.stored_at,
            version=stored.version,
            token_kind=stored.info.kind,
        )

    @get(
        "/status",
        summary="Whether a Railway token is configured, where from, and whether to rotate it",
        responses=RESPONSES,
    )
    async def status(self, principal: Caller, providers: Providers) -> s.RailwayStatusRead:
        st = await providers.railway.status(principal)
        return s.RailwayStatusRead(
            configured=st.configured,
            last_validated=st.last_validated,
            needs_rotation=st.needs_rotation,
            source=st.source,
            version=st.version,
            token_kind=st.token_kind,
            expires_at=st.expires_at,
            expires_in_days=st.expires_in_days,
            warning=st.warning,
        )

    @post(
        "/validate",
        status_code=200,
        summary="Ask Railway whether the token in use works",
        responses=RESPONSES,
        opt=PROVIDER_CALLS,
    )
    async def validate(self, principal: Caller, providers: Providers) -> s.RailwayValidationRead:
        result = await providers.railway.validate(principal)
        return s.RailwayValidationRead(
            valid=result.valid, permissions=list(result.permissions), token_kind=result.kind, detail=result.detail
        )

    @post(
        "/rotate",
        status_code=201,
        summary="Validate a new token and store it as a new version",
        responses=RESPONSES,
        opt=PROVIDER_CALLS,
    )
    async def rotate(
        self, data: JSONBody[s.RailwayRotate], principal: Caller, providers: Providers
    ) -> s.RailwayRotated:
        stored = await providers.railway.rotate(principal, SecretValue(data.new_token))
        return s.RailwayRotated(success=True, version=stored.version, previous_version=stored.previous_version)

    @delete("/", status_code=200, summary="Soft-delete the Railway token (versions kept)", responses=RESPONSES)
    async def remove(self, principal: Caller, providers: Providers) -> s.RailwayDeleted:
        affected = await providers.railway.delete(principal)
        return s.RailwayDeleted(success=True, affected_environments=affected)
