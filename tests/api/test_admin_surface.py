"""Admins see any user's metadata and trail and revoke any user's secret, and never read a value."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.api


AUDIT = "/api/v1/secrets/audit"
SECRETS = "/api/v1/secrets"


def admin_headers(token_for) -> tuple[str, dict[str, str]]:
    admin_id = f"admin_{uuid.uuid4().hex[:8]}"
    return admin_id, {"Authorization": f"Bearer {token_for(admin_id, admin=True)}"}


async def user_events(client, auth, **params) -> list[dict]:
    response = await client.get(AUDIT, params={"limit": 500, **params}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["logs"]


async def test_admin_lists_a_users_metadata_without_values(client, auth, user, token_for):
    canary = f"admin-list-canary-{uuid.uuid4().hex}"
    await client.post(SECRETS, json={"key": "db", "value": canary, "tags": ["prod"]}, headers=auth)
    await client.post(SECRETS, json={"key": "db", "value": canary + "-2"}, headers=auth)
    admin_id, admin = admin_headers(token_for)

    listed = await client.get(f"/api/v1/admin/users/{user}/secrets", headers=admin)
    assert listed.status_code == 200
    assert canary not in listed.text
    [summary] = listed.json()["secrets"]
    assert (summary["key"], summary["version"], summary["tags"]) == ("db", 2, ["prod"])
    assert "value" not in summary

    listings = [e for e in await user_events(client, auth, action="list") if e["actor"] == admin_id]
    assert [(e["actor_is_admin"], e["user_id"], e["outcome"]) for e in listings] == [(True, user, "success")]

    # Not an admin: refused, and the attempt is on the user's record.
    other = {"Authorization": f"Bearer {token_for(user + '_x')}"}
    assert (await client.get(f"/api/v1/admin/users/{user}/secrets", headers=other)).status_code == 403
    denied = [e for e in await user_events(client, auth, action="list") if e["actor"] == user + "_x"]
    assert [e["outcome"] for e in denied] == ["denied"]


async def test_admin_revokes_a_secret_and_the_event_names_the_admin(client, auth, user, token_for):
    await client.post(SECRETS, json={"key": "leaked", "value": "x"}, headers=auth)
    admin_id, admin = admin_headers(token_for)

    revoked = await client.delete(
        f"/api/v1/admin/users/{user}/secrets/leaked", headers={**admin, "X-Request-ID": "revoke-leaked-1"}
    )
    assert revoked.status_code == 200 and revoked.json()["success"] is True
    assert (await client.get(f"{SECRETS}/leaked", headers=auth)).status_code == 404
    assert (await client.get(SECRETS, headers=auth)).json()["secrets"] == []

    [event] = [e for e in await user_events(client, auth, action="delete") if e["request_id"] == "revoke-leaked-1"]
    assert (event["actor"], event["actor_is_admin"], event["user_id"], event["secret"], event["outcome"]) == (
        admin_id,
        True,
        user,
        "leaked",
        "success",
    )
    missing = await client.delete(f"/api/v1/admin/users/{user}/secrets/never-was", headers=admin)
    assert missing.status_code == 404
    other = {"Authorization": f"Bearer {token_for(user + '_x')}"}
    await client.post(SECRETS, json={"key": "kept", "value": "x"}, headers=auth)
    assert (await client.delete(f"/api/v1/admin/users/{user}/secrets/kept", headers=other)).status_code == 403
    assert (await client.get(f"{SECRETS}/kept", headers=auth)).status_code == 200


async def test_an_admin_can_never_read_a_users_value(client, auth, user, token_for):
    canary = f"never-for-admins-{uuid.uuid4().hex}"
    await client.post(SECRETS, json={"key": "private", "value": canary}, headers=auth)
    await client.post(SECRETS, json={"key": "private", "value": canary + "-v2"}, headers=auth)
    env_canary = f"env-{canary}"
    stored = await client.post(
        "/api/v1/environments/production/secrets", json={"key": "DB_PASSWORD", "value": env_canary}, headers=auth
    )
    assert stored.status_code == 201, stored.text
    docker = await client.post(
        "/api/v1/secrets/docker",
        json={"registry": "registry.example.com", "username": "me", "password": f"docker-{canary}"},
        headers=auth,
    )
    assert docker.status_code == 201, docker.text
    _, admin = admin_headers(token_for)

    attempts = [
        ("GET", f"{SECRETS}/private"),
        ("GET", f"{SECRETS}/private?user_id={user}"),
        ("GET", f"{SECRETS}/private/versions/1"),
        ("GET", f"{SECRETS}/private/versions/2"),
        ("GET", f"{SECRETS}/private/versions"),
        ("GET", f"{SECRETS}/private/metadata"),
        ("GET", f"{SECRETS}/users/{user}/custom/private"),
        ("GET", f"{SECRETS}/..%2F{user}%2Fcustom%2Fprivate"),
        ("GET", f"{SECRETS}?user_id={user}"),
        ("GET", f"/api/v1/admin/users/{user}/secrets"),
        ("GET", f"/api/v1/admin/users/{user}/secrets/private"),
        ("GET", f"/api/v1/admin/users/{user}/secrets/private/versions/1"),
        ("GET", f"/api/v1/admin/users/{user}/secrets?include_values=true"),
        ("POST", f"{SECRETS}/private/rollback"),
        ("GET", f"{AUDIT}?user_id={user}"),
        ("GET", f"{AUDIT}/export?user_id={user}&format=ndjson"),
        ("GET", f"{AUDIT}/export?user_id={user}&format=csv"),
        ("GET", "/api/v1/environments/production/secrets"),
        ("GET", "/api/v1/environments/production/secrets/DB_PASSWORD"),
        ("GET", f"/api/v1/environments/production/secrets/DB_PASSWORD?user_id={user}"),
        ("GET", "/api/v1/secrets/docker"),
        ("GET", "/api/v1/secrets/docker/registry.example.com"),
        ("GET", "/api/v1/secrets/docker/registry.example.com/credentials"),
        ("GET", "/api/v1/secrets/docker/registry.example.com/credentials?format=railway"),
        ("GET", "/api/v1/secrets/railway/status"),
        ("GET", "/api/v1/secrets/github/status"),
        ("GET", "/api/v1/admin/migration-status"),
    ]
    for method, url in attempts:
        kwargs = {"json": {"to_version": 1}} if method == "POST" else {}
        response = await client.request(method, url, headers=admin, **kwargs)
        assert canary not in response.text, (method, url, response.status_code)
        for header, value in response.headers.items():
            assert canary not in value, (method, url, header)
        if url.startswith(f"{SECRETS}/private") and method == "GET":
            # The admin's own namespace: nothing there (404); in per-user Vault mode the admin's
            # Vault identity has no data capability at all, so Vault itself refuses (403).
            assert response.status_code in (403, 404), (url, response.status_code)

    # Nothing the admin did created or touched anything in the user's namespace.
    mine = (await client.get(f"{SECRETS}/private", headers=auth)).json()
    assert (mine["value"], mine["version"]) == (canary + "-v2", 2)
    assert (await client.get("/api/v1/environments/production/secrets/DB_PASSWORD", headers=auth)).json()[
        "value"
    ] == env_canary
    trail = json.dumps(await user_events(client, auth))
    assert canary not in trail
