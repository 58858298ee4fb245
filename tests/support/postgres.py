"""Throwaway PostgreSQL databases for tests: one fresh database per test session.

The server is, in order: `TEST_DATABASE_ADMIN_URL` if set, a testcontainers PostgreSQL if a
Docker engine answers, else the local server at `DEFAULT_ADMIN_URL`. The helpers are synchronous
and run asyncpg in a worker thread with its own event loop, so they are callable from sync
fixtures and from inside a running event loop alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.db.migrate import upgrade

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ADMIN_URL_ENV = "TEST_DATABASE_ADMIN_URL"
DATABASE_PREFIX = "mirage_test_"

T = TypeVar("T")


def create_test_database(admin_url: str) -> str:
    """Create `mirage_test_<random hex>` on the admin URL's server and return its URL."""
    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    # The name is generated here (hex only), so quoting it is enough; DDL can't take parameters.
    _run(_execute(admin_url, f'CREATE DATABASE "{name}"'))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_test_database(admin_url: str, url: str) -> None:
    """Drop the database `url` names, disconnecting whoever still uses it (PostgreSQL 13+)."""
    name = make_url(url).database or ""
    if not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    _run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def migrated_test_database(admin_url: str) -> Iterator[str]:
    """A fresh `mirage_test_<hex>` database at the newest schema, dropped on exit: the one way the
    fixtures get a migrated database."""
    url = create_test_database(admin_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_test_database(admin_url, url)


def server_answers(admin_url: str) -> bool:
    try:
        _run(_execute(admin_url, "SELECT 1"))
    except Exception:  # any failure means "no usable server" to the caller, which skips
        return False
    return True


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def postgres_admin_url() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for this session (see the module docstring)."""
    configured = os.environ.get(ADMIN_URL_ENV)
    if configured:
        yield configured
        return
    if not docker_available():
        yield DEFAULT_ADMIN_URL
        return
    # testcontainers.postgres is a deprecated alias of this module.
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
        yield container.get_connection_url()


async def _execute(admin_url: str, statement: str) -> None:
    # CREATE/DROP DATABASE can't run in a transaction block, hence AUTOCOMMIT.
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-admin") as pool:
        return pool.submit(asyncio.run, coroutine).result()
