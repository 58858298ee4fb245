"""Vault unreachable: a clear 503 with Retry-After, never a 500, and nothing half-written."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import api_env
from tests.support.ports import free_port

pytestmark = pytest.mark.api


@pytest.fixture
async def dead_vault_client(openbao, database_url, signing_keys):
    env = api_env(openbao, database_url, signing_keys[1]) | {"VAULT_ADDR": f"http://127.0.0.1:{free_port()}"}
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        yield client


async def test_requests_that_need_vault_get_503_with_retry_after(dead_vault_client, auth):
    for method, path, body in [
        ("POST", "/api/v1/secrets", {"key": "k", "value": "v"}),
        ("GET", "/api/v1/secrets/k", None),
        ("GET", "/api/v1/secrets/k/versions", None),
        ("DELETE", "/api/v1/secrets/k", None),
        ("POST", "/api/v1/secrets/k/rollback", {"to_version": 1}),
    ]:
        response = await dead_vault_client.request(method, path, json=body, headers=auth)
        assert response.status_code == 503, (method, path, response.text)
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Traceback" not in response.text


async def test_a_failed_write_leaves_no_index_row(dead_vault_client, client, auth):
    assert (
        await dead_vault_client.post("/api/v1/secrets", json={"key": "k", "value": "v"}, headers=auth)
    ).status_code == 503
    assert (await client.get("/api/v1/secrets", headers=auth)).json() == {"secrets": []}


async def test_health_reports_vault_unreachable(dead_vault_client, client, auth):
    down = (await dead_vault_client.get("/api/v1/secrets/health", headers=auth)).json()
    assert (down["vault_reachable"], down["sealed"], down["ready"]) == (False, True, False)
    assert down["database"]["migrated"] is True
    not_ready = await dead_vault_client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["vault"] == {"reachable": False, "sealed": True}

    up = (await client.get("/api/v1/secrets/health", headers=auth)).json()
    assert (up["vault_reachable"], up["sealed"], up["initialized"], up["ready"]) == (True, False, True, True)
    assert up["version"]
    assert up["database"]["revision"] == up["database"]["expected_revision"]
    assert up["cache"] == {"kind": "in-process", "enabled": True, "invalidation_listener": None}
    assert up["circuit_breaker"]["state"] == "closed"
    assert (await client.get("/readyz")).json()["ready"] is True


async def test_the_breaker_opens_and_fails_fast_while_vault_is_down(dead_vault_client, auth):
    for _ in range(6):  # VAULT_BREAKER_FAILURES defaults to 5
        await dead_vault_client.get("/api/v1/secrets/k", headers=auth)
    health = (await dead_vault_client.get("/api/v1/secrets/health", headers=auth)).json()
    assert health["circuit_breaker"]["state"] == "open"
    fast = await dead_vault_client.get("/api/v1/secrets/k", headers=auth)
    assert fast.status_code == 503 and int(fast.headers["retry-after"]) >= 1
