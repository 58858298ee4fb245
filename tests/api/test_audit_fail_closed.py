"""Fail closed through the API: a read whose event can't be written returns 503 and no value.

A throwaway PostgreSQL database whose `audit_events` table refuses `read` events (a CHECK
constraint added NOT VALID, so existing rows don't matter): every other action is still recorded,
so the secret can be stored, and only the value read is refused.
"""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import api_env

pytestmark = pytest.mark.api


CANARY = "fail-closed-api-canary"


async def execute(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def refusing_database(fresh_pg_url):
    return fresh_pg_url  # the test makes it refuse reads


async def test_a_read_that_cant_be_audited_returns_503_and_no_value(refusing_database, openbao, signing_keys, auth):
    env = api_env(openbao, refusing_database, signing_keys[1]) | {"CACHE_TTL_SECONDS": "60"}
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        stored = await client.post("/api/v1/secrets", json={"key": "k", "value": CANARY}, headers=auth)
        assert stored.status_code == 201, stored.text
        assert (await client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == CANARY  # cached now

        await execute(
            refusing_database,
            "ALTER TABLE audit_events ADD CONSTRAINT no_reads CHECK (action <> 'read') NOT VALID",
        )
        refused = await client.get("/api/v1/secrets/k", headers=auth)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) > 0
        assert CANARY not in refused.text
        assert "value" not in refused.json()

        # Only the read is refused: other operations are recorded and go on.
        listed = await client.get("/api/v1/secrets", headers=auth)
        assert listed.status_code == 200 and CANARY not in listed.text

        await execute(refusing_database, "ALTER TABLE audit_events DROP CONSTRAINT no_reads")
        assert (await client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == CANARY

        reads = (await client.get("/api/v1/secrets/audit", params={"action": "read"}, headers=auth)).json()["logs"]
        assert [e["outcome"] for e in reads] == ["success", "success"]  # the refused read left no event
