"""`/api/v1/secrets/github`: store, status and remove the caller's GitHub token."""

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


class GitHubController(Controller):
    path = "/api/v1/secrets/github"
    tags = ["github"]
    dependencies = PROVIDER_DEPENDENCIES

    @post(
        "/",
        status_code=201,
        summary="Validate a GitHub token with GET /user, then store it",
        responses=RESPONSES,
        opt=PROVIDER_CALLS,
    )
    async def store(
        self, data: JSONBody[s.GitHubTokenCreate], principal: Caller, providers: Providers
    ) -> s.GitHubTokenStored:
        username = await providers.github.store(principal, SecretValue(data.token))
        return s.GitHubTokenStored(success=True, username=username)

    @get("/status", summary="The GitHub token's user, scopes, type and expiry", responses=RESPONSES)
    async def status(self, principal: Caller, providers: Providers) -> s.GitHubStatusRead:
        st = await providers.github.status(principal)
        return s.GitHubStatusRead(
            configured=st.configured,
            last_validated=st.last_validated,
            username=st.username,
            scopes=list(st.scopes),
            token_type=st.token_type,
            expires_at=st.expires_at,
            expires_soon=st.expires_soon,
            expires_in_days=st.expires_in_days,
            warning=st.warning,
            repository_count=st.repository_count,
        )

    @delete("/", status_code=200, summary="Soft-delete the GitHub token", responses=RESPONSES)
    async def remove(self, principal: Caller, providers: Providers) -> s.Done:
        await providers.github.delete(principal)
        return s.Done(success=True)
