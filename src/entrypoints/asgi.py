"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from adapters.telemetry.logging import configure_logging
from adapters.telemetry.tracing import configure_tracing
from entrypoints.http.app import create_app
from entrypoints.settings import dev_signing_key_path, load_logging_settings, load_settings


def _configure_telemetry() -> None:
    logs = load_logging_settings(os.environ)
    # Off the event loop: a request only enqueues its log records; a thread redacts and writes them.
    configure_logging(level=logs.level, json_output=logs.json_output, off_loop=True, access_sample=logs.access_sample)
    configure_tracing()  # exporter from the standard OTEL_* variables; none unless configured


def app_from_env() -> Litestar:
    _configure_telemetry()
    return create_app(settings=load_settings(os.environ))


def dev_app_from_env() -> Litestar:
    """The app `mirage-secrets dev` serves: development mode, with the development sign-in."""
    _configure_telemetry()
    return create_app(
        settings=load_settings(os.environ, dev_mode=True, dev_signing_key_file=dev_signing_key_path(os.environ))
    )
