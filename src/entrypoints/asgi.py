"""ASGI factory for uvicorn workers: each worker process builds its own container."""

from __future__ import annotations

import os

from litestar import Litestar

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def app_from_env() -> Litestar:
    return create_app(settings=load_settings(os.environ))
