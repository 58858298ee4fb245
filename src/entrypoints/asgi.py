"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from adapters.telemetry.logging import configure_logging
from adapters.telemetry.tracing import configure_tracing
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def app_from_env() -> Litestar:
    configure_logging(
        level=os.environ.get("LOG_LEVEL", "INFO"), json_output=os.environ.get("LOG_FORMAT", "json") == "json"
    )
    configure_tracing()  # exporter from the standard OTEL_* variables; none unless configured
    return create_app(settings=load_settings(os.environ))
