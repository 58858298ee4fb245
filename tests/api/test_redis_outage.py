"""Redis dies: the service keeps answering from Vault; nothing fails because the cache failed."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import api_env
from tests.support.ports import free_port

pytestmark = pytest.mark.api


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, so killing it disturbs nobody else."""
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    client.close()
    yield port, process
    if process.poll() is None:
        process.kill()
    process.wait()


async def test_the_service_keeps_serving_when_redis_dies(own_redis, openbao, database_url, signing_keys, auth):
    port, process = own_redis
    env = api_env(openbao, database_url, signing_keys[1]) | {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        assert (
            await client.post("/api/v1/secrets", json={"key": "k", "value": "one"}, headers=auth)
        ).status_code == 201
        assert (await client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == "one"
        health = (await client.get("/api/v1/secrets/health", headers=auth)).json()
        assert health["cache"]["kind"] == "redis"

        process.kill()
        process.wait()

        # Reads and writes go to Vault; the cache failing is a miss, never an error.
        assert (
            await client.post("/api/v1/secrets", json={"key": "k", "value": "two"}, headers=auth)
        ).status_code == 201
        assert (await client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == "two"
        assert (
            await client.post("/api/v1/secrets", json={"key": "new", "value": "v"}, headers=auth)
        ).status_code == 201
        assert (await client.get("/api/v1/secrets/new", headers=auth)).json()["value"] == "v"
        assert (await client.get("/api/v1/secrets/health", headers=auth)).json()["ready"] is True
