"""Every provider and environment operation through the API leaves exactly one audit event.

Real OpenBao and PostgreSQL, the local Railway/GitHub servers and a real registry (fixtures shared
with test_provider_credentials). Each step is one request; the events it added are read back from
`GET /api/v1/secrets/audit` (the `audit_read` events of those reads left out) and compared
exactly. Canary values and tokens must appear in no field of any event.
"""

from __future__ import annotations

import json

import pytest

from tests.support.env import DOCKER, GITHUB, RAILWAY
from tests.support.registry import REGISTRY_USERS

pytestmark = pytest.mark.api


ENV = "/api/v1/environments/audited/secrets"
ENV_CANARY = "env-canary-value-0b7e41"
DOCKER_CANARY = "docker-canary-pass-9c2d"


class Trail:
    """The caller's audit events, oldest first, since the last look."""

    def __init__(self, client, headers) -> None:
        self.client, self.headers = client, headers
        self.seen = 0
        self.everything: list[dict] = []

    async def new(self) -> list[tuple[str, str | None, str]]:
        response = await self.client.get("/api/v1/secrets/audit?limit=200", headers=self.headers)
        assert response.status_code == 200, response.text
        fresh = [e for e in response.json()["logs"] if e["id"] > self.seen]
        if fresh:
            self.seen = max(e["id"] for e in fresh)
        fresh = [e for e in reversed(fresh) if e["action"] != "audit_read"]
        self.everything += fresh
        return [(e["action"], e["secret"], e["outcome"]) for e in fresh]


@pytest.fixture
async def trail(api, auth):
    t = Trail(api, auth)
    await t.new()
    return t


async def step(trail: Trail, response, status: int, *expected: tuple[str, str | None, str]) -> None:
    assert response.status_code == status, response.text
    assert await trail.new() == list(expected)


async def test_railway_operations(api, auth, trail, railway):
    first, second = railway.add_account_token(), railway.add_account_token()
    await step(
        trail, await api.post(RAILWAY, json={"token": first}, headers=auth), 201, ("create", "railway", "success")
    )
    await step(trail, await api.get(f"{RAILWAY}/status", headers=auth), 200, ("metadata_read", "railway", "success"))
    await step(trail, await api.post(f"{RAILWAY}/validate", headers=auth), 200, ("validate", "railway", "success"))
    await step(
        trail,
        await api.post(f"{RAILWAY}/rotate", json={"new_token": second}, headers=auth),
        201,
        ("rotate", "railway", "success"),
    )
    # Railway no longer knows the token: a result (valid=false), recorded as invalid.
    del railway.account_tokens[second]
    validated = await api.post(f"{RAILWAY}/validate", headers=auth)
    assert validated.json()["valid"] is False
    await step(trail, validated, 200, ("validate", "railway", "invalid"))
    # Railway rejects a new token: nothing stored, one invalid event.
    await step(
        trail,
        await api.post(f"{RAILWAY}/rotate", json={"new_token": "00000000-0000-0000-0000-000000000000"}, headers=auth),
        422,
        ("rotate", "railway", "invalid"),
    )
    await step(trail, await api.delete(RAILWAY, headers=auth), 200, ("delete", "railway", "success"))
    await step(trail, await api.post(f"{RAILWAY}/validate", headers=auth), 404, ("validate", "railway", "not_found"))
    rejected = await api.post(RAILWAY, json={"token": "00000000-0000-0000-0000-000000000000"}, headers=auth)
    await step(trail, rejected, 422, ("update", "railway", "invalid"))
    assert "Railway answered" in trail.everything[-1]["reason"]
    assert_clean(trail, first, second)


async def test_github_operations(api, auth, trail, github):
    token = github.add_token("ghp_", login="octo", scopes="repo")
    await step(trail, await api.post(GITHUB, json={"token": token}, headers=auth), 201, ("create", "github", "success"))
    await step(trail, await api.get(f"{GITHUB}/status", headers=auth), 200, ("metadata_read", "github", "success"))
    await step(trail, await api.delete(GITHUB, headers=auth), 200, ("delete", "github", "success"))
    assert_clean(trail, token)


async def test_docker_operations(api, auth, trail, local_docker_registry):
    host = local_docker_registry.host
    key = f"docker/{host}"
    good = {"registry": host, "username": "mirage", "password": REGISTRY_USERS["mirage"]}
    await step(trail, await api.post(DOCKER, json=good, headers=auth), 201, ("create", key, "success"))
    await step(trail, await api.get(DOCKER, headers=auth), 200, ("list", None, "success"))
    await step(trail, await api.get(f"{DOCKER}/{host}", headers=auth), 200, ("read", key, "success"))
    await step(trail, await api.post(f"{DOCKER}/{host}/test", headers=auth), 200, ("test_login", key, "success"))
    for fmt in ("railway", "docker_config"):
        exported = await api.get(f"{DOCKER}/{host}/credentials?format={fmt}", headers=auth)
        await step(trail, exported, 200, ("export", key, "success"))
        assert trail.everything[-1]["reason"] == f"format {fmt}"
    await step(
        trail, await api.get(f"{DOCKER}/{host}/credentials?format=nope", headers=auth), 422, ("export", None, "invalid")
    )
    await step(
        trail,
        await api.post(DOCKER, json=good | {"password": DOCKER_CANARY}, headers=auth),
        201,
        ("update", key, "success"),
    )
    refused = await api.post(f"{DOCKER}/{host}/test", headers=auth)
    assert refused.json()["valid"] is False
    await step(trail, refused, 200, ("test_login", key, "invalid"))
    await step(trail, await api.delete(f"{DOCKER}/{host}", headers=auth), 200, ("delete", key, "success"))
    await step(trail, await api.get(f"{DOCKER}/{host}/credentials", headers=auth), 404, ("export", key, "not_found"))
    assert_clean(trail, REGISTRY_USERS["mirage"], DOCKER_CANARY)


async def test_environment_operations_and_sync(api, auth, trail, railway):
    env, var = "env_vars/audited", "env_vars/audited/API_KEY"
    await step(
        trail,
        await api.post(ENV, json={"key": "API_KEY", "value": ENV_CANARY}, headers=auth),
        201,
        ("create", var, "success"),
    )
    await step(
        trail,
        await api.post(ENV, json={"key": "API_KEY", "value": ENV_CANARY + "2"}, headers=auth),
        201,
        ("update", var, "success"),
    )
    await step(trail, await api.get(f"{ENV}/API_KEY", headers=auth), 200, ("read", var, "success"))
    await step(trail, await api.get(ENV, headers=auth), 200, ("list", env, "success"))
    bulk = await api.post(
        f"{ENV}/bulk", json={"secrets": {"B1": ENV_CANARY + "b1", "B2": ENV_CANARY + "b2"}}, headers=auth
    )
    await step(trail, bulk, 201, ("bulk_import", env, "success"))
    assert trail.everything[-1]["reason"] == "2 variables: B1, B2"
    dotenv = await api.post(f"{ENV}/bulk", json={"dotenv": f"D1={ENV_CANARY}d\n"}, headers=auth)
    await step(trail, dotenv, 201, ("bulk_import", env, "success"))
    await step(trail, await api.delete(f"{ENV}/B1", headers=auth), 200, ("delete", "env_vars/audited/B1", "success"))
    # Failures: an unknown variable, a bad name, a bad dotenv line.
    await step(trail, await api.get(f"{ENV}/NOPE", headers=auth), 404, ("read", "env_vars/audited/NOPE", "not_found"))
    await step(
        trail, await api.delete(f"{ENV}/NOPE", headers=auth), 404, ("delete", "env_vars/audited/NOPE", "not_found")
    )
    await step(
        trail,
        await api.post(ENV, json={"key": "1BAD", "value": ENV_CANARY}, headers=auth),
        422,
        ("update", "invalid:'env_vars/audited/1BAD'", "invalid"),  # a refused key, marked
    )
    await step(
        trail,
        await api.post(f"{ENV}/bulk", json={"dotenv": f"OK={ENV_CANARY}\nnot a line\n"}, headers=auth),
        422,
        ("bulk_import", env, "invalid"),
    )

    # Sync: the client's use of the Railway token, then the sync itself.
    token = railway.add_account_token()
    await step(
        trail, await api.post(RAILWAY, json={"token": token}, headers=auth), 201, ("create", "railway", "success")
    )
    body = {"project_id": "audit-proj", "environment_id": "audit-env"}
    preview = await api.post(f"{ENV}/sync?dry_run=true", json=body, headers=auth)
    await step(trail, preview, 200, ("read", "railway", "success"), ("sync", env, "success"))
    assert [e["reason"] for e in trail.everything[-2:]] == ["railway client", "dry run"]
    await step(
        trail,
        await api.post(f"{ENV}/sync", json=body, headers=auth),
        200,
        ("read", "railway", "success"),
        ("sync", env, "success"),
    )
    assert trail.everything[-1]["reason"] is None
    assert_clean(trail, ENV_CANARY, token)


def assert_clean(trail: Trail, *canaries: str) -> None:
    """No value or token in any field of any event the test produced."""
    text = json.dumps(trail.everything)
    for canary in canaries:
        assert canary not in text
