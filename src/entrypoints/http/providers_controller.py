"""Provider credentials: `/api/v1/secrets/{railway,github,docker}`, environments, migration status.

Thin: parse, call one service method, convert. The user is always the verified principal.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.credentials import RailwayTarget
from domain.errors import Forbidden, InvalidInput
from domain.values import Principal, SecretValue
from entrypoints.container import ProviderServices
from entrypoints.http import provider_schemas as s
from entrypoints.http.problems import PROBLEM_MEDIA_TYPE
from entrypoints.http.responses import PROBLEM_RESPONSES
from entrypoints.http.schemas import ProblemDetail

Caller = NamedDependency[Principal]
Providers = NamedDependency[ProviderServices]
Registry = Annotated[
    str, PathParameter(description="registry host[:port], e.g. ghcr.io or localhost:5000", max_length=260)
]
EnvId = Annotated[str, PathParameter(description="the environment's id", max_length=128)]
EnvKey = Annotated[str, PathParameter(description="a POSIX variable name", max_length=256)]

RESPONSES = {
    **PROBLEM_RESPONSES,
    412: ResponseSpec(
        data_container=ProblemDetail,
        description="No credential configured; `link` says where to add one",
        media_type=PROBLEM_MEDIA_TYPE,
    ),
    429: ResponseSpec(
        data_container=ProblemDetail,
        description="The provider is rate-limiting; retry after Retry-After seconds",
        media_type=PROBLEM_MEDIA_TYPE,
    ),
}


def provide_provider_services(request: Request) -> ProviderServices:
    return request.app.state.container.providers


_DEPENDENCIES = {"providers": Provide(provide_provider_services, sync_to_thread=False)}


class RailwayController(Controller):
    path = "/api/v1/secrets/railway"
    tags = ["railway"]
    dependencies = _DEPENDENCIES

    @post("/", status_code=201, summary="Validate a Railway token with Railway, then store it", responses=RESPONSES)
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
        )

    @post("/validate", status_code=200, summary="Ask Railway whether the token in use works", responses=RESPONSES)
    async def validate(self, principal: Caller, providers: Providers) -> s.RailwayValidationRead:
        result = await providers.railway.validate(principal)
        return s.RailwayValidationRead(
            valid=result.valid, permissions=list(result.permissions), token_kind=result.kind, detail=result.detail
        )

    @post("/rotate", status_code=201, summary="Validate a new token and store it as a new version", responses=RESPONSES)
    async def rotate(
        self, data: JSONBody[s.RailwayRotate], principal: Caller, providers: Providers
    ) -> s.RailwayRotated:
        stored = await providers.railway.rotate(principal, SecretValue(data.new_token))
        return s.RailwayRotated(success=True, version=stored.version, previous_version=stored.previous_version)

    @delete("/", status_code=200, summary="Soft-delete the Railway token (versions kept)", responses=RESPONSES)
    async def remove(self, principal: Caller, providers: Providers) -> s.RailwayDeleted:
        affected = await providers.railway.delete(principal)
        return s.RailwayDeleted(success=True, affected_environments=affected)


class GitHubController(Controller):
    path = "/api/v1/secrets/github"
    tags = ["github"]
    dependencies = _DEPENDENCIES

    @post("/", status_code=201, summary="Validate a GitHub token with GET /user, then store it", responses=RESPONSES)
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
        )

    @delete("/", status_code=200, summary="Soft-delete the GitHub token", responses=RESPONSES)
    async def remove(self, principal: Caller, providers: Providers) -> s.Done:
        await providers.github.delete(principal)
        return s.Done(success=True)


class DockerController(Controller):
    path = "/api/v1/secrets/docker"
    tags = ["docker"]
    dependencies = _DEPENDENCIES

    @post("/", status_code=201, summary="Store credentials for a registry", responses=RESPONSES)
    async def store(
        self, data: JSONBody[s.DockerCredentialsCreate], principal: Caller, providers: Providers
    ) -> s.DockerStored:
        registry, version = await providers.docker.store(
            principal,
            registry=data.registry,
            username=data.username,
            password=SecretValue(data.password),
            email=data.email,
        )
        return s.DockerStored(success=True, registry=registry, version=version)

    @get("/", summary="The registries the caller has credentials for", responses=RESPONSES)
    async def list_registries(self, principal: Caller, providers: Providers) -> s.DockerRegistries:
        return s.DockerRegistries(registries=await providers.docker.registries(principal))

    @get("/{registry:str}", summary="A registry's credentials without the password", responses=RESPONSES)
    async def read(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerCredentialsRead:
        c = await providers.docker.get(principal, registry)
        return s.DockerCredentialsRead(
            registry=c.registry, username=c.username, email=c.email, version=c.version, last_validated=c.last_validated
        )

    @get(
        "/{registry:str}/credentials",
        summary="The credentials as consumers need them (owner only; holds the password)",
        description="`format=railway`: Railway's `{username, password}` registryCredentials pair. "
        '`format=docker_config`: a `~/.docker/config.json` `{"auths": {...}}` entry.',
        responses=RESPONSES,
    )
    async def export(
        self,
        registry: Registry,
        principal: Caller,
        providers: Providers,
        fmt: Annotated[str, QueryParameter(name="format", description="railway or docker_config")] = "docker_config",
    ) -> dict[str, Any]:
        return dict(await providers.docker.export(principal, registry, fmt))

    @post(
        "/{registry:str}/test",
        status_code=200,
        summary="Log in to the registry the way `docker login` does",
        responses=RESPONSES,
    )
    async def test(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerTestRead:
        result = await providers.docker.test(principal, registry)
        return s.DockerTestRead(valid=result.valid, detail=result.detail, scheme=result.scheme)

    @delete("/{registry:str}", status_code=200, summary="Soft-delete a registry's credentials", responses=RESPONSES)
    async def remove(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerDeleted:
        await providers.docker.delete(principal, registry)
        return s.DockerDeleted(success=True, registry=registry)


class EnvironmentSecretsController(Controller):
    path = "/api/v1/environments/{env_id:str}/secrets"
    tags = ["environments"]
    dependencies = _DEPENDENCIES

    @post("/", status_code=201, summary="Set one variable of an environment", responses=RESPONSES)
    async def store(
        self, env_id: EnvId, data: JSONBody[s.EnvSecretCreate], principal: Caller, providers: Providers
    ) -> s.EnvSecretStored:
        written = await providers.environments.set(principal, env_id, data.key, SecretValue(data.value))
        return s.EnvSecretStored(success=True, key=data.key, version=written.version)

    @get("/", summary="The environment's variable names (never values)", responses=RESPONSES)
    async def list_keys(self, env_id: EnvId, principal: Caller, providers: Providers) -> s.EnvSecretList:
        return s.EnvSecretList(secrets=await providers.environments.keys(principal, env_id))

    @post(
        "/bulk",
        status_code=201,
        summary="Set many variables at once, all or nothing",
        description='`{"secrets": {"KEY": "value"}}` or `{"dotenv": "KEY=value\\n..."}`: one check-and-set write; '
        "one bad name or value refuses the whole request.",
        responses=RESPONSES,
    )
    async def bulk(
        self, env_id: EnvId, data: JSONBody[s.EnvBulkCreate], principal: Caller, providers: Providers
    ) -> s.EnvBulkStored:
        if (data.secrets is None) == (data.dotenv is None):
            raise InvalidInput("send either 'secrets' or 'dotenv'", field="secrets")
        if data.secrets is not None:
            written = await providers.environments.bulk(
                principal, env_id, {k: SecretValue(v) for k, v in data.secrets.items()}
            )
        else:
            written = await providers.environments.bulk_dotenv(principal, env_id, data.dotenv or "")
        return s.EnvBulkStored(success=True, stored=written.stored, version=written.version)

    @post(
        "/sync",
        status_code=200,
        summary="Push the environment's variables to Railway (variableCollectionUpsert)",
        description="`?dry_run=true` only shows what would change (values masked). The Railway ids are "
        "remembered for the environment after the first sync.",
        responses=RESPONSES,
    )
    async def sync(
        self,
        env_id: EnvId,
        principal: Caller,
        providers: Providers,
        data: JSONBody[s.SyncCreate | None] = None,
        dry_run: Annotated[bool, QueryParameter(description="preview only")] = False,
    ) -> s.SyncRead:
        body = data or s.SyncCreate()
        target = None
        if body.project_id or body.environment_id:
            if not (body.project_id and body.environment_id):
                raise InvalidInput("project_id and environment_id go together", field="environment_id")
            target = RailwayTarget(body.project_id, body.environment_id, body.service_id)
        plan = await providers.sync.sync(principal, env_id, target=target, replace=body.replace, dry_run=dry_run)

        def changes(items) -> list[s.VariableChangeRead]:
            return [s.VariableChangeRead(key=c.key, old=c.old, new=c.new) for c in items]

        return s.SyncRead(
            dry_run=dry_run,
            applied=plan.applied,
            replace=plan.replace,
            project_id=plan.target.project_id,
            environment_id=plan.target.environment_id,
            service_id=plan.target.service_id,
            added=changes(plan.added),
            changed=changes(plan.changed),
            removed=changes(plan.removed),
            unchanged=plan.unchanged,
            token_source=plan.source,
        )

    @get("/{key:str}", summary="Read one variable", responses=RESPONSES)
    async def read(self, env_id: EnvId, key: EnvKey, principal: Caller, providers: Providers) -> s.EnvSecretRead:
        view = await providers.environments.get(principal, env_id, key)
        return s.EnvSecretRead(
            key=view.key, value=view.value.reveal(), created_at=view.created_at, version=view.version
        )

    @delete(
        "/{key:str}", status_code=200, summary="Remove one variable (a new version without it)", responses=RESPONSES
    )
    async def remove(self, env_id: EnvId, key: EnvKey, principal: Caller, providers: Providers) -> s.EnvSecretDeleted:
        await providers.environments.delete(principal, env_id, key)
        return s.EnvSecretDeleted(success=True, key=key)


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get(
        "/migration-status",
        summary="How many users are on Vault tokens vs the shared env token (admins)",
        responses=RESPONSES,
    )
    async def migration_status(
        self, request: Request, principal: Caller, providers: Providers
    ) -> s.MigrationStatusRead:
        if not principal.is_admin:
            raise Forbidden("only admins may see the migration status")
        counts = await providers.migration.status()
        settings = request.app.state.container.settings.providers
        return s.MigrationStatusRead(
            vault_enabled=settings.secrets_vault_enabled,
            env_token_configured=settings.railway_api_token is not None,
            users=counts.total,
            vault=counts.vault,
            env=counts.env,
            none=counts.none,
        )
