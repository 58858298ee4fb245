"""Bad input gets a clear 4xx problem detail, and nothing is written."""

from __future__ import annotations

import pytest

from domain.secrets import MAX_VALUE_BYTES

pytestmark = pytest.mark.api


async def _assert_nothing_stored(client, auth):
    assert (await client.get("/api/v1/secrets", headers=auth)).json() == {"secrets": []}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("name", "body", "status", "detail"),
    [
        ("unknown field", {"key": "k", "value": "v", "owner": "bob"}, 400, "unknown field"),
        ("value not a string", {"key": "k", "value": 42}, 400, "Expected `str`"),
        ("missing value", {"key": "k"}, 400, "missing required field `value`"),
        ("tags not a list", {"key": "k", "value": "v", "tags": "prod"}, 400, "Expected `array"),
        ("negative cas", {"key": "k", "value": "v", "cas": -1}, 400, ">= 0"),
        ("bad key characters", {"key": "my key!", "value": "v"}, 422, "a key is"),
        ("key with a slash", {"key": "a/b", "value": "v"}, 422, "a key is"),
        ("dot-dot key", {"key": "..", "value": "v"}, 422, "a key is"),
        ("key too long", {"key": "k" * 129, "value": "v"}, 422, "a key is"),
        ("reserved key", {"key": "railway", "value": "v"}, 422, "reserved"),
        ("reserved key any case", {"key": "Audit", "value": "v"}, 422, "reserved"),
        ("empty value", {"key": "k", "value": ""}, 422, "empty"),
        ("bad tag", {"key": "k", "value": "v", "tags": ["has space"]}, 422, "a tag is"),
        ("too many tags", {"key": "k", "value": "v", "tags": [f"t{i}" for i in range(13)]}, 422, "at most 12"),
        ("provider type", {"key": "k", "value": "v", "type": "railway_token"}, 422, "provider"),
        ("value too large", {"key": "k", "value": "x" * (MAX_VALUE_BYTES + 1)}, 413, "at most"),
    ],
)
async def test_bad_store_requests(client, auth, name, body, status, detail):
    problem = _problem(await client.post("/api/v1/secrets", json=body, headers=auth), status)
    assert detail in problem["detail"]
    await _assert_nothing_stored(client, auth)


async def test_malformed_json(client, auth):
    response = await client.post(
        "/api/v1/secrets", content=b'{"key": "k", "value": ', headers={**auth, "Content-Type": "application/json"}
    )
    _problem(response, 400)
    await _assert_nothing_stored(client, auth)


async def test_body_over_one_mebibyte(client, auth):
    response = await client.post("/api/v1/secrets", json={"key": "k", "value": "x" * (1024 * 1024 + 10)}, headers=auth)
    _problem(response, 413)
    await _assert_nothing_stored(client, auth)


@pytest.mark.parametrize(
    ("raw_key", "status"),
    [("%2e%2e", 422), ("%2E%2E", 422), ("a%2Fb", 404), ("%00", 422), ("a%20b", 422), ("..%2F..%2Fbob", 404)],
)
async def test_path_tricks_in_the_key(client, auth, raw_key, status):
    response = await client.get(f"/api/v1/secrets/{raw_key}", headers=auth)
    _problem(response, status)
    await _assert_nothing_stored(client, auth)


async def test_versions_that_do_not_exist(client, auth):
    await client.post("/api/v1/secrets", json={"key": "k", "value": "v"}, headers=auth)
    _problem(await client.get("/api/v1/secrets/k/versions/9", headers=auth), 404)
    _problem(await client.get("/api/v1/secrets/k/versions/0", headers=auth), 422)
    # A non-numeric version matches no route.
    _problem(await client.get("/api/v1/secrets/k/versions/abc", headers=auth), 404)
    _problem(await client.post("/api/v1/secrets/k/rollback", json={"to_version": 9}, headers=auth), 404)
    _problem(await client.post("/api/v1/secrets/k/rollback", json={"to_version": 0}, headers=auth), 400)
    _problem(await client.get("/api/v1/secrets/missing", headers=auth), 404)
    _problem(await client.delete("/api/v1/secrets/missing", headers=auth), 404)
    _problem(await client.get("/api/v1/secrets/missing/versions", headers=auth), 404)
    assert (await client.get("/api/v1/secrets/k/versions", headers=auth)).json()["current_version"] == 1


async def test_bad_metadata_update_changes_nothing(client, auth):
    await client.post("/api/v1/secrets", json={"key": "k", "value": "v", "tags": ["a"]}, headers=auth)
    _problem(await client.patch("/api/v1/secrets/k/metadata", json={"tags": ["bad tag"]}, headers=auth), 422)
    _problem(await client.patch("/api/v1/secrets/k/metadata", json={"colour": "red"}, headers=auth), 400)
    assert (await client.get("/api/v1/secrets/k/metadata", headers=auth)).json()["tags"] == ["a"]
