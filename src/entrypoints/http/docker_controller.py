"""`/api/v1/secrets/docker`: the caller's Docker registry logins: store, list, read, export, test, remove."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.params import JSONBody, QueryParameter

from domain.values import SecretValue
from entrypoints.http import provider_schemas as s
from entrypoints.http.provider_common import (
    PROVIDER_DEPENDENCIES,
    RESPONSES,
    Caller,
    Providers,
    Registry,
)


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
