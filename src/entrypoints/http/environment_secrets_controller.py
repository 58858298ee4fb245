"""`/api/v1/environments/{env_id}/secrets`: one environment's variables, bulk import and Railway sync."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import JSONBody, QueryParameter

from domain.credentials import RailwayTarget
from domain.errors import InvalidInput
from domain.values import SecretValue
from entrypoints.http import provider_schemas as s
from entrypoints.http.guards import PROVIDER_CALLS
from entrypoints.http.provider_common import (
    PROVIDER_DEPENDENCIES,
    RESPONSES,
    Caller,
    EnvId,
    EnvKey,
    Providers,
)


class EnvironmentSecretsController(Controller):
    path = "/api/v1/environments/{env_id:str}/secrets"
    tags = ["environments"]
    dependencies = PROVIDER_DEPENDENCIES

    @post("/", status_code=201, summary="Set one variable of an environment", responses=RESPONSES)
    async def store(
        self, env_id: EnvId, data: JSONBody[s.EnvSecretCreate], principal: Caller, providers: Providers
    ) -> s.EnvSecretStored:
        written = await providers.environments.set(
            principal, env_id, data.key, SecretValue(data.value), ttl=data.ttl, expires_at=data.expires_at
        )
        return s.EnvSecretStored(success=True, key=data.key, version=written.version)

    @get("/", summary="The environment's variable names (never values)", responses=RESPONSES)
    async def list_keys(self, env_id: EnvId, principal: Caller, providers: Providers) -> s.EnvSecretList:
        found = await providers.environments.listing(principal, env_id)
        return s.EnvSecretList(
            secrets=sorted(found.variables), expired=list(found.expired), expires_at=dict(found.expires_at)
        )

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
        opt=PROVIDER_CALLS,
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
            key=view.key,
            value=view.value.reveal(),
            created_at=view.created_at,
            version=view.version,
            expires_at=view.expires_at,
        )

    @delete(
        "/{key:str}", status_code=200, summary="Remove one variable (a new version without it)", responses=RESPONSES
    )
    async def remove(self, env_id: EnvId, key: EnvKey, principal: Caller, providers: Providers) -> s.EnvSecretDeleted:
        await providers.environments.delete(principal, env_id, key)
        return s.EnvSecretDeleted(success=True, key=key)


class EnvironmentValuesController(Controller):
    """`/api/v1/environments/{env_id}/values`: outside `.../secrets/`, where any name is a variable."""

    path = "/api/v1/environments/{env_id:str}"
    tags = ["environments"]
    dependencies = PROVIDER_DEPENDENCIES

    @get(
        "/values",
        summary="Every variable of the environment with its value: one audited read",
        description="What `mirage-secrets run` and `env export --reveal` use. The whole read is one `export` "
        "event; `purpose` (`run` or `export`) is recorded with it.",
        responses=RESPONSES,
    )
    async def values(
        self,
        env_id: EnvId,
        principal: Caller,
        providers: Providers,
        purpose: Annotated[str | None, QueryParameter(description="run or export", max_length=16)] = None,
    ) -> s.EnvValuesRead:
        found = await providers.environments.values(principal, env_id, purpose=purpose)
        return s.EnvValuesRead(
            environment=env_id,
            version=found.version,
            secrets={k: v.reveal() for k, v in sorted(found.variables.items())},
            expired=list(found.expired),
        )
