"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from adapters.telemetry.logging import configure_logging
from adapters.telemetry.tracing import configure_tracing
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, dev_signing_key_path, load_settings


def _configure_telemetry(settings: Settings) -> None:
    telemetry = settings.telemetry
    # Off the event loop: a request only enqueues its log records; a thread redacts and writes them.
    configure_logging(
        level=telemetry.log_level, json_output=telemetry.log_json, off_loop=True, access_sample=telemetry.access_sample
    )
    configure_tracing(env=telemetry.otel)  # exporter from the standard OTEL_* variables; none unless configured


def app_from_env() -> Litestar:
    settings = load_settings(os.environ)
    _configure_telemetry(settings)
    return create_app(settings=settings)


def dev_app_from_env() -> Litestar:
    """The app `mirage-secrets dev` serves: development mode, with the development sign-in."""
    settings = load_settings(os.environ, dev_mode=True, dev_signing_key_file=dev_signing_key_path(os.environ))
    _configure_telemetry(settings)
    return create_app(settings=settings)
