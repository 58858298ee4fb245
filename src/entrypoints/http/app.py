"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from adapters.telemetry.metrics import metrics_handler, request_metrics_config
from adapters.telemetry.tracing import opentelemetry_plugin, tracing_configured
from entrypoints.container import Container, build_container
from entrypoints.http.admin_controller import AdminSecretsController
from entrypoints.http.audit_controller import AuditController
from entrypoints.http.dependencies import (
    provide_audit_service,
    provide_expiring_service,
    provide_principal,
    provide_secret_service,
)
from entrypoints.http.docker_controller import DockerController
from entrypoints.http.environment_secrets_controller import EnvironmentSecretsController, EnvironmentValuesController
from entrypoints.http.github_controller import GitHubController
from entrypoints.http.guards import before_handler, header_size_limit, security_headers
from entrypoints.http.health_controller import SecretsHealthController, healthz, readyz
from entrypoints.http.migration_controller import MigrationStatusController
from entrypoints.http.openapi import refine_openapi
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.railway_controller import RailwayController
from entrypoints.http.request_context import request_context_middleware
from entrypoints.http.secrets_controller import SecretsController
from entrypoints.http.ui import ui_router
from entrypoints.jobs import cleanup_job
from entrypoints.settings import Settings

MAX_BODY_BYTES = 1024 * 1024


def create_app(container: Container | None = None, *, settings: Settings | None = None) -> Litestar:
    """An app on a ready container (tests), or one that builds its own from settings at startup."""
    if (container is None) == (settings is None):
        raise ValueError("pass either a container or settings")
    configured = settings if settings is not None else container.settings if container is not None else None
    assert configured is not None  # exactly one of the two was given

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = container is None
        app.state.container = built = container or await build_container(configured)
        try:
            async with cleanup_job(built.cleanup, built.settings.lifecycle.cleanup_interval_seconds):
                yield
        finally:
            if owned:
                await app.state.container.close()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics_handler(multiprocess_dir=configured.telemetry.prometheus_multiproc_dir),
            SecretsHealthController,
            SecretsController,
            RailwayController,
            GitHubController,
            DockerController,
            EnvironmentSecretsController,
            EnvironmentValuesController,
            MigrationStatusController,
            AuditController,
            AdminSecretsController,
            ui_router(dev_mode=(settings or container.settings).dev_mode),  # type: ignore[union-attr]
        ],
        dependencies={
            "principal": Provide(provide_principal),
            "secret_service": Provide(provide_secret_service, sync_to_thread=False),
            "audit_service": Provide(provide_audit_service, sync_to_thread=False),
            "expiring_service": Provide(provide_expiring_service, sync_to_thread=False),
        },
        middleware=[header_size_limit, request_context_middleware, request_metrics_config().middleware],
        before_request=before_handler,
        before_send=[security_headers],
        plugins=[opentelemetry_plugin()] if tracing_configured() else [],
        logging_config=None,  # logging is configured once, by the entrypoint (redacting JSON)
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"container": container}),  # None until the lifespan built one
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Mirage Secrets",
            version="0.1.0",
            description="Per-user secrets for Mirage, kept in Vault KV v2. Errors are RFC 9457 problem details.",
            path="/schema",
        ),
    )
    refine_openapi(app)
    return app
