"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from adapters.telemetry.logging import configure_logging
from adapters.telemetry.tracing import configure_tracing
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def app_from_env() -> Litestar:
    settings = load_settings(os.environ)
    telemetry = settings.telemetry
    configure_logging(level=telemetry.log_level, json_output=telemetry.log_json)
    configure_tracing(env=telemetry.otel)  # exporter from the standard OTEL_* variables; none unless configured
    return create_app(settings=settings)
