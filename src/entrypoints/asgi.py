"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def app_from_env() -> Litestar:
    return create_app(build_container(load_settings(os.environ)))
