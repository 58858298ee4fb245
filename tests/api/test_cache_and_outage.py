"""With Redis configured: reads are cached encrypted, and survive Vault dying (flagged stale)."""

from __future__ import annotations

import hvac
import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from adapters.vault.bootstrap import ensure_kv_mount
from entrypoints.http.app import create_app
from entrypoints.http.secrets_controller import STALE_HEADER
from entrypoints.settings import load_settings
from tests.support.env import api_env
from tests.support.openbao import start_dev_openbao
from tests.support.waiting import eventually

pytestmark = pytest.mark.api


REDIS_URL = "redis://127.0.0.1:6379/13"
TTL_SECONDS = 1


@pytest.fixture
async def doomed_openbao():
    """An OpenBao of this test's own, so that it can be killed."""
    server = start_dev_openbao()
    ensure_kv_mount(hvac.Client(url=server.addr, token=server.root_token), "mirage")
    yield server
    server.stop()


@pytest.fixture
async def cached_client(doomed_openbao, database_url, signing_keys):
    env = api_env(doomed_openbao, database_url, signing_keys[1]) | {
        "REDIS_URL": REDIS_URL,
        "CACHE_TTL_SECONDS": str(TTL_SECONDS),
    }
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        yield client
    raw = redis.from_url(REDIS_URL)
    keys = [key async for key in raw.scan_iter("mirage:cache:*")]
    if keys:
        await raw.delete(*keys)
    await raw.aclose()


async def test_redis_holds_no_plaintext_and_reads_survive_a_vault_outage(cached_client, doomed_openbao, auth, user):
    canary = "plaintext-canary-4b1d"
    for key in ("cached", "uncached"):
        stored = await cached_client.post("/api/v1/secrets", json={"key": key, "value": canary}, headers=auth)
        assert stored.status_code == 201
    assert (await cached_client.get("/api/v1/secrets/cached", headers=auth)).json()["value"] == canary

    raw = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in raw.scan_iter("mirage:cache:*")]
        assert keys, "the read must have been cached in Redis"
        everything = b"".join(keys) + b"".join([await raw.get(key) or b"" for key in keys])
    finally:
        await raw.aclose()
    for plaintext in (canary, user, "cached"):
        assert plaintext.encode() not in everything

    doomed_openbao.stop()

    # Until the entry passes its TTL it is served fresh; after that, stale (Vault is gone).
    async def served_stale() -> bool:
        nonlocal stale
        stale = await cached_client.get("/api/v1/secrets/cached", headers=auth)
        return STALE_HEADER in stale.headers

    stale = None
    assert await eventually(served_stale, within=TTL_SECONDS + 10, every=0.2)
    assert stale is not None and stale.status_code == 200
    assert stale.json()["value"] == canary
    assert int(stale.headers[STALE_HEADER]) >= TTL_SECONDS

    uncached = await cached_client.get("/api/v1/secrets/uncached", headers=auth)
    assert uncached.status_code == 503 and int(uncached.headers["retry-after"]) > 0
    write = await cached_client.post("/api/v1/secrets", json={"key": "cached", "value": "new"}, headers=auth)
    assert write.status_code == 503
    listed = (await cached_client.get("/api/v1/secrets", headers=auth)).json()["secrets"]
    assert [(s["key"], s["version"]) for s in listed] == [("cached", 1), ("uncached", 1)]


async def test_a_write_invalidates_the_cached_value(cached_client, auth):
    await cached_client.post("/api/v1/secrets", json={"key": "k", "value": "one"}, headers=auth)
    assert (await cached_client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == "one"
    await cached_client.post("/api/v1/secrets", json={"key": "k", "value": "two"}, headers=auth)
    fresh = await cached_client.get("/api/v1/secrets/k", headers=auth)
    assert fresh.json()["value"] == "two" and STALE_HEADER not in fresh.headers
