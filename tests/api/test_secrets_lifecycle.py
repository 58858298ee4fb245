"""Store, list, read, version, roll back, update metadata and delete, through the HTTP API."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.api


async def store(client, auth, key, value, **extra):
    response = await client.post("/api/v1/secrets", json={"key": key, "value": value, **extra}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def test_full_lifecycle(client, auth):
    assert await store(client, auth, "db-password", "hunter2", tags=["prod", "db"]) == {
        "success": True,
        "key": "db-password",
        "version": 1,
    }
    assert (await store(client, auth, "db-password", "hunter3"))["version"] == 2

    listed = (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]
    assert [(s["key"], s["type"], s["tags"], s["version"]) for s in listed] == [
        ("db-password", "custom", ["prod", "db"], 2)
    ]
    assert "value" not in listed[0]

    read = (await client.get("/api/v1/secrets/db-password", headers=auth)).json()
    assert (read["value"], read["version"]) == ("hunter3", 2)
    assert read["metadata"]["tags"] == ["prod", "db"]
    assert read["metadata"]["type"] == "custom"

    versions = (await client.get("/api/v1/secrets/db-password/versions", headers=auth)).json()
    assert [(v["version"], v["current"]) for v in versions["versions"]] == [(2, True), (1, False)]

    old = (await client.get("/api/v1/secrets/db-password/versions/1", headers=auth)).json()
    assert (old["value"], old["version"]) == ("hunter2", 1)

    rollback = await client.post("/api/v1/secrets/db-password/rollback", json={"to_version": 1}, headers=auth)
    assert rollback.status_code == 201
    assert rollback.json() == {"success": True, "new_version": 3, "restored_from": 1}
    assert (await client.get("/api/v1/secrets/db-password", headers=auth)).json()["value"] == "hunter2"

    deleted = await client.delete("/api/v1/secrets/db-password", headers=auth)
    assert deleted.json() == {"success": True, "versions_archived": 3}
    assert (await client.get("/api/v1/secrets/db-password", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"] == []
    history = (await client.get("/api/v1/secrets/db-password/versions", headers=auth)).json()["versions"]
    assert [(v["version"], v["deleted"]) for v in history] == [(3, True), (2, False), (1, False)]

    # The deleted version can't be read, the older ones can, and a rollback brings the secret back.
    assert (await client.get("/api/v1/secrets/db-password/versions/3", headers=auth)).status_code == 410
    restored = await client.post("/api/v1/secrets/db-password/rollback", json={"to_version": 2}, headers=auth)
    assert restored.json()["new_version"] == 4
    assert (await client.get("/api/v1/secrets/db-password", headers=auth)).json()["value"] == "hunter3"
    assert [s["key"] for s in (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]] == ["db-password"]


async def test_metadata_changes_without_a_new_version(client, auth):
    await store(client, auth, "api-key", "k1", tags=["a"])
    patched = await client.patch(
        "/api/v1/secrets/api-key/metadata",
        json={"tags": ["b", "c"], "type": "api_key", "description": "Stripe test key"},
        headers=auth,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["tags"], body["type"], body["description"], body["current_version"]) == (
        ["b", "c"],
        "api_key",
        "Stripe test key",
        1,
    )
    metadata = (await client.get("/api/v1/secrets/api-key/metadata", headers=auth)).json()
    assert metadata["tags"] == ["b", "c"] and metadata["created_by"]
    # A new value keeps the metadata.
    await store(client, auth, "api-key", "k2")
    assert (await client.get("/api/v1/secrets/api-key", headers=auth)).json()["metadata"]["type"] == "api_key"


async def test_list_filters_by_type_tags_and_key_search(client, auth):
    await store(client, auth, "stripe-live", "a", tags=["prod", "payments"], type="api_key")
    await store(client, auth, "stripe-test", "b", tags=["dev", "payments"], type="api_key")
    await store(client, auth, "db-url", "c", tags=["prod"])

    async def keys(params):
        response = await client.get("/api/v1/secrets", params=params, headers=auth)
        assert response.status_code == 200
        return [s["key"] for s in response.json()["secrets"]]

    assert await keys({}) == ["db-url", "stripe-live", "stripe-test"]
    assert await keys({"type": "api_key"}) == ["stripe-live", "stripe-test"]
    assert await keys({"tag": "prod"}) == ["db-url", "stripe-live"]
    assert await keys([("tag", "prod"), ("tag", "payments")]) == ["stripe-live"]
    assert await keys({"q": "STRIPE"}) == ["stripe-live", "stripe-test"]
    assert await keys({"q": "%"}) == []


async def test_check_and_set(client, auth):
    assert (await store(client, auth, "cas-key", "v1", cas=0))["version"] == 1
    stale = await client.post("/api/v1/secrets", json={"key": "cas-key", "value": "lost", "cas": 0}, headers=auth)
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_version"] == 1
    assert (await client.get("/api/v1/secrets/cas-key", headers=auth)).json()["value"] == "v1"
    assert (await store(client, auth, "cas-key", "v2", cas=1))["version"] == 2


async def test_concurrent_unconditional_writes_all_land_as_distinct_versions(client, auth):
    results = await asyncio.gather(*(store(client, auth, "racy", f"value-{i}") for i in range(5)))
    assert sorted(r["version"] for r in results) == [1, 2, 3, 4, 5]
    versions = (await client.get("/api/v1/secrets/racy/versions", headers=auth)).json()["versions"]
    assert len(versions) == 5


async def test_only_the_last_ten_versions_are_kept(client, auth):
    for i in range(12):
        await store(client, auth, "rotating", f"value-{i + 1}")
    versions = (await client.get("/api/v1/secrets/rotating/versions", headers=auth)).json()["versions"]
    assert [v["version"] for v in versions] == list(range(12, 2, -1))
    assert (await client.get("/api/v1/secrets/rotating/versions/2", headers=auth)).status_code == 404
    rollback = await client.post("/api/v1/secrets/rotating/rollback", json={"to_version": 1}, headers=auth)
    assert rollback.status_code == 404
