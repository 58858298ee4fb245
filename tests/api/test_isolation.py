"""Invariant 2: a user can never read, list or change another user's secrets."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.api


async def test_two_users_never_see_each_others_secrets(client, token_for, user):
    alice = {"Authorization": f"Bearer {token_for(user + '_alice')}"}
    bob = {"Authorization": f"Bearer {token_for(user + '_bob')}"}
    assert (
        await client.post("/api/v1/secrets", json={"key": "shared-name", "value": "alice-value"}, headers=alice)
    ).status_code == 201
    assert (
        await client.post("/api/v1/secrets", json={"key": "only-alice", "value": "a2"}, headers=alice)
    ).status_code == 201
    # Bob's secret with the same key is his own, at version 1.
    bob_store = await client.post("/api/v1/secrets", json={"key": "shared-name", "value": "bob-value"}, headers=bob)
    assert bob_store.json()["version"] == 1

    assert [s["key"] for s in (await client.get("/api/v1/secrets", headers=bob)).json()["secrets"]] == ["shared-name"]
    assert (await client.get("/api/v1/secrets/shared-name", headers=bob)).json()["value"] == "bob-value"
    assert (await client.get("/api/v1/secrets/shared-name", headers=alice)).json()["value"] == "alice-value"

    for method, path, body in [
        ("GET", "/api/v1/secrets/only-alice", None),
        ("GET", "/api/v1/secrets/only-alice/versions", None),
        ("GET", "/api/v1/secrets/only-alice/versions/1", None),
        ("GET", "/api/v1/secrets/only-alice/metadata", None),
        ("PATCH", "/api/v1/secrets/only-alice/metadata", {"tags": ["pwned"]}),
        ("POST", "/api/v1/secrets/only-alice/rollback", {"to_version": 1}),
        ("DELETE", "/api/v1/secrets/only-alice", None),
    ]:
        response = await client.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path, response.text)

    alice_secret = (await client.get("/api/v1/secrets/only-alice", headers=alice)).json()
    assert (alice_secret["value"], alice_secret["version"], alice_secret["metadata"]["tags"]) == ("a2", 1, [])


async def test_the_user_id_comes_from_the_token_not_the_body(client, token_for, user):
    mallory = {"Authorization": f"Bearer {token_for(user + '_mallory')}"}
    response = await client.post(
        "/api/v1/secrets", json={"key": "k", "value": "v", "user_id": user + "_alice"}, headers=mallory
    )
    assert response.status_code == 400
    alice = {"Authorization": f"Bearer {token_for(user + '_alice')}"}
    assert "k" not in [s["key"] for s in (await client.get("/api/v1/secrets", headers=alice)).json()["secrets"]]
