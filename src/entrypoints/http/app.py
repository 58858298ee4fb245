"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from entrypoints.container import Container
from entrypoints.http.dependencies import provide_principal, provide_secret_service
from entrypoints.http.health_controller import SecretsHealthController, healthz
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.secrets_controller import SecretsController

MAX_BODY_BYTES = 1024 * 1024


def create_app(container: Container, *, close_container: bool = True) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_container:
                await container.close()

    return Litestar(
        route_handlers=[healthz, SecretsHealthController, SecretsController],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "secret_service": Provide(provide_secret_service, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"container": container}),
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Mirage Secrets",
            version="0.1.0",
            description="Per-user secrets for Mirage, kept in Vault KV v2. Errors are RFC 9457 problem details.",
            path="/schema",
        ),
    )
