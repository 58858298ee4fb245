"""`/api/v1/secrets/docker`: the caller's Docker registry logins: store, list, read, export, test, remove."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.providers import normalize_registry
from domain.secrets import MAX_VERSION, docker_key
from domain.values import SecretValue
from entrypoints.http import provider_schemas as s
from entrypoints.http import schemas
from entrypoints.http import secrets_controller as generic
from entrypoints.http.guards import PROVIDER_CALLS
from entrypoints.http.provider_common import (
    PROVIDER_DEPENDENCIES,
    RESPONSES,
    Caller,
    Providers,
    Registry,
)
from services.secret_service import SecretService

Secrets = NamedDependency[SecretService]
Version = Annotated[
    int, PathParameter(description="a version number", schema_extra={"minimum": 1, "maximum": MAX_VERSION})
]


def _key(registry: str) -> str:
    """The generic key of a registry's credentials: `docker/{host[:port]}`, normalised."""
    return docker_key(normalize_registry(registry))


class DockerController(Controller):
    path = "/api/v1/secrets/docker"
    tags = ["docker"]
    dependencies = PROVIDER_DEPENDENCIES

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
        entries = await providers.docker.registries(principal)
        return s.DockerRegistries(
            registries=[e.registry for e in entries],
            entries=[
                s.DockerRegistryEntry(registry=e.registry, last_used_at=e.last_used_at, last_validated=e.last_validated)
                for e in entries
            ],
        )

    @get("/{registry:str}", summary="A registry's credentials without the password", responses=RESPONSES)
    async def read(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerCredentialsRead:
        c = await providers.docker.get(principal, registry)
        return s.DockerCredentialsRead(
            registry=c.registry,
            username=c.username,
            email=c.email,
            version=c.version,
            last_validated=c.last_validated,
            last_used_at=c.last_used_at,
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
        fmt: Annotated[
            str,
            QueryParameter(
                name="format",
                description="railway or docker_config",
                schema_extra={"enum": ["railway", "docker_config"]},
            ),
        ] = "docker_config",
    ) -> dict[str, Any]:
        return dict(await providers.docker.export(principal, registry, fmt))

    @post(
        "/{registry:str}/test",
        status_code=200,
        summary="Log in to the registry the way `docker login` does",
        responses=RESPONSES,
        opt=PROVIDER_CALLS,
    )
    async def test(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerTestRead:
        result = await providers.docker.test(principal, registry)
        return s.DockerTestRead(valid=result.valid, detail=result.detail, scheme=result.scheme)

    @delete("/{registry:str}", status_code=200, summary="Soft-delete a registry's credentials", responses=RESPONSES)
    async def remove(self, registry: Registry, principal: Caller, providers: Providers) -> s.DockerDeleted:
        await providers.docker.delete(principal, registry)
        return s.DockerDeleted(success=True, registry=registry)

    # The generic secret routes for the key `docker/{registry}`: its '/' can't sit in one path
    # segment, so these spell the key as the path it already is. Same service, same isolation:
    # the path is always built under the verified caller's own subtree.

    @get("/{registry:str}/versions", summary="The credentials' version history, newest first", responses=RESPONSES)
    async def versions(self, registry: Registry, principal: Caller, secret_service: Secrets) -> schemas.VersionList:
        return await generic.version_list(secret_service, principal, _key(registry))

    @get(
        "/{registry:str}/versions/{version:int}",
        summary="One version's password (owner only)",
        responses=RESPONSES,
    )
    async def read_version(
        self, registry: Registry, version: Version, principal: Caller, secret_service: Secrets
    ) -> schemas.SecretVersionRead:
        return await generic.version_read(secret_service, principal, _key(registry), version)

    @post(
        "/{registry:str}/rollback",
        status_code=201,
        summary="Write a new version holding an old version's credentials",
        responses=RESPONSES,
    )
    async def rollback(
        self, registry: Registry, data: JSONBody[schemas.RollbackCreate], principal: Caller, secret_service: Secrets
    ) -> schemas.RollbackDone:
        return await generic.rollback_to(secret_service, principal, _key(registry), data)

    @get("/{registry:str}/metadata", summary="The credentials' metadata", responses=RESPONSES)
    async def read_metadata(
        self, registry: Registry, principal: Caller, secret_service: Secrets
    ) -> schemas.SecretMetadataRead:
        return await generic.metadata_read(secret_service, principal, _key(registry))

    @patch("/{registry:str}/metadata", summary="Change the credentials' tags or description", responses=RESPONSES)
    async def update_metadata(
        self,
        registry: Registry,
        data: JSONBody[schemas.ProviderMetadataUpdate],
        principal: Caller,
        secret_service: Secrets,
    ) -> schemas.SecretMetadataRead:
        change = schemas.SecretMetadataUpdate(tags=data.tags, description=data.description)
        return await generic.metadata_update(secret_service, principal, _key(registry), change)
