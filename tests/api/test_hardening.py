"""Issue 12's bad inputs: each a clear 4xx problem with nothing changed, never a 500 or an outage.

Through the whole app on real OpenBao and PostgreSQL, in both Vault modes (the `client` fixture).
"""

from __future__ import annotations

import base64

import pytest

from domain.errors import StorageUnavailable

pytestmark = pytest.mark.api


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


# -- audit dates at the edge of the calendar ------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/v1/secrets/audit", "/api/v1/secrets/audit/export"])
@pytest.mark.parametrize(
    "query",
    [
        {"end_date": "9999-12-31"},
        {"start_date": "0001-01-01T00:00:00+14:00"},
        {"end_date": "9999-12-31T23:59:59-05:00"},
    ],
    ids=["end-9999-12-31", "start-0001-plus-14", "end-9999-minus-5"],
)
async def test_audit_dates_at_the_calendar_edge_are_a_422(client, auth, route, query):
    body = _problem(await client.get(route, params=query, headers=auth), 422)
    assert body["field"] in ("start_date", "end_date")


async def test_an_audit_cursor_past_bigint_is_a_422_not_an_outage(client, auth):
    cursor = base64.urlsafe_b64encode(f"2024-01-01T00:00:00.000000Z|{2**63}".encode()).decode().rstrip("=")
    body = _problem(await client.get("/api/v1/secrets/audit", params={"cursor": cursor}, headers=auth), 422)
    assert body["field"] == "cursor"


# -- list filters and numbers that reached a store as an error ------------------------------------


@pytest.mark.parametrize("params", [{"q": "\x00"}, {"type": "a\x00"}, {"tag": "t\x00"}], ids=["q", "type", "tag"])
async def test_a_nul_in_a_list_filter_is_a_422_not_storage_unavailable(client, auth, params):
    _problem(await client.get("/api/v1/secrets", params=params, headers=auth), 422)


async def test_rollback_to_a_version_past_any_integer_is_refused_before_vault(client, auth):
    assert (await client.post("/api/v1/secrets", json={"key": "rb", "value": "v"}, headers=auth)).status_code == 201
    answer = await client.post("/api/v1/secrets/rb/rollback", json={"to_version": 9223372036854775808}, headers=auth)
    _problem(answer, 400)
    versions = (await client.get("/api/v1/secrets/rb/versions", headers=auth)).json()
    assert versions["current_version"] == 1


async def test_a_version_path_past_the_bound_is_refused(client, auth):
    assert (await client.post("/api/v1/secrets", json={"key": "vp", "value": "v"}, headers=auth)).status_code == 201
    answer = await client.get(f"/api/v1/secrets/vp/versions/{2**63}", headers=auth)
    assert _problem(answer, 422)["field"] == "version"


# -- strict bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("cas", ["1", 1.0, True], ids=["string", "float", "bool"])
async def test_cas_of_the_wrong_type_is_refused_not_coerced(client, auth, cas):
    answer = await client.post("/api/v1/secrets", json={"key": "strict", "value": "v", "cas": cas}, headers=auth)
    body = _problem(answer, 400)
    assert "cas" in body["detail"]
    assert (await client.get("/api/v1/secrets/strict", headers=auth)).status_code == 404


async def test_a_text_plain_body_is_a_415(client, auth):
    answer = await client.post(
        "/api/v1/secrets",
        content=b'{"key": "plain", "value": "v"}',
        headers={**auth, "Content-Type": "text/plain"},
    )
    _problem(answer, 415)
    assert (await client.get("/api/v1/secrets/plain", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"key": "utf", "value": "\xff\xfe"}', b"{" * 100_000],
    ids=["deep-array", "invalid-utf8", "deep-object"],
)
@pytest.mark.parametrize("route", ["/api/v1/secrets", "/api/v1/secrets/railway", "/api/v1/secrets/github"])
async def test_a_deeply_nested_or_non_utf8_body_is_a_400_problem(client, auth, body, route):
    answer = await client.post(route, content=body, headers={**auth, "Content-Type": "application/json"})
    _problem(answer, 400)


# -- a description Vault refuses: no partial write behind a 403 -----------------------------------


@pytest.mark.parametrize(
    "description", ["a\u007fb", "a\u0085b", "a\u202eb", "a\u2066b", "a\u0000b", "a\u009fb"], ids=repr
)
async def test_an_unprintable_description_is_a_422_and_nothing_is_stored(client, auth, description):
    answer = await client.post(
        "/api/v1/secrets", json={"key": "k", "value": "v", "description": description}, headers=auth
    )
    assert _problem(answer, 422)["field"] == "description"
    assert (await client.get("/api/v1/secrets/k", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/secrets/k/versions", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/secrets", headers=auth)).json() == {"secrets": []}


async def test_patching_an_unprintable_description_is_a_422(client, auth):
    assert (await client.post("/api/v1/secrets", json={"key": "pd", "value": "v"}, headers=auth)).status_code == 201
    answer = await client.patch("/api/v1/secrets/pd/metadata", json={"description": "x\u202ey"}, headers=auth)
    assert _problem(answer, 422)["field"] == "description"


async def test_an_index_failure_on_a_first_write_leaves_no_readable_secret(client, container, auth, monkeypatch):
    """The real-server half of the step-failure tests: Vault took the value, the index failed."""

    async def index_down(record):
        raise StorageUnavailable("the metadata store is unavailable")

    monkeypatch.setattr(container.secrets._index, "upsert", index_down)
    answer = await client.post("/api/v1/secrets", json={"key": "half", "value": "v"}, headers=auth)
    _problem(answer, 503)
    monkeypatch.undo()
    assert (await client.get("/api/v1/secrets/half", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/secrets", headers=auth)).json() == {"secrets": []}
    # The key is not poisoned: the next write succeeds and is listed.
    assert (await client.post("/api/v1/secrets", json={"key": "half", "value": "w"}, headers=auth)).status_code == 201
    assert (await client.get("/api/v1/secrets/half", headers=auth)).json()["value"] == "w"
    assert [s["key"] for s in (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]] == ["half"]


# -- provider tokens that are not printable ASCII -------------------------------------------------


@pytest.mark.parametrize("route", ["/api/v1/secrets/railway", "/api/v1/secrets/github"])
@pytest.mark.parametrize("token", ["\u00e8", "tok\u00e8n", "a\nb", "tok en\x7f"], ids=repr)
async def test_a_provider_token_that_is_not_printable_ascii_is_a_422(client, auth, route, token):
    body = _problem(await client.post(route, json={"token": token}, headers=auth), 422)
    assert body["field"] == "token"


# -- the protocol: methods, headers --------------------------------------------------------------


async def test_a_405_names_the_allowed_methods(client, auth):
    answer = await client.request("TRACE", "/api/v1/secrets/some-key/versions", headers=auth)
    _problem(answer, 405)
    assert set(answer.headers["allow"].replace(" ", "").split(",")) >= {"GET"}


async def test_api_responses_are_not_cacheable_and_not_sniffed(client, auth):
    assert (await client.post("/api/v1/secrets", json={"key": "nc", "value": "v"}, headers=auth)).status_code == 201
    for answer in (
        await client.get("/api/v1/secrets/nc", headers=auth),
        await client.get("/api/v1/secrets/nc/versions/1", headers=auth),
        await client.get("/api/v1/secrets/missing", headers=auth),
        await client.get("/api/v1/secrets"),
    ):
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_html_gets_a_strict_content_security_policy(client):
    answer = await client.get("/schema/swagger")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_megabyte_authorization_header_is_a_431(client):
    answer = await client.get("/api/v1/secrets", headers={"Authorization": "Bearer " + "a" * (1024 * 1024)})
    _problem(answer, 431)


# -- admins have a namespace of their own -----------------------------------------------------


async def test_an_admin_stores_reads_versions_and_rolls_back_their_own_secret(client, token_for, user):
    admin = {"Authorization": f"Bearer {token_for(user, admin=True)}"}
    assert (await client.post("/api/v1/secrets", json={"key": "own", "value": "a1"}, headers=admin)).status_code == 201
    assert (await client.post("/api/v1/secrets", json={"key": "own", "value": "a2"}, headers=admin)).status_code == 201
    assert (await client.get("/api/v1/secrets/own", headers=admin)).json()["value"] == "a2"
    assert (await client.get("/api/v1/secrets/own/versions", headers=admin)).json()["current_version"] == 2
    rolled = await client.post("/api/v1/secrets/own/rollback", json={"to_version": 1}, headers=admin)
    assert rolled.status_code == 201, rolled.text
    assert (await client.get("/api/v1/secrets/own", headers=admin)).json()["value"] == "a1"
    patched = await client.patch("/api/v1/secrets/own/metadata", json={"tags": ["x"]}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert (await client.delete("/api/v1/secrets/own", headers=admin)).status_code == 200


async def test_an_admin_still_gets_no_other_users_value(client, token_for, user, auth):
    assert (await client.post("/api/v1/secrets", json={"key": "theirs", "value": "v"}, headers=auth)).status_code == 201
    admin = {"Authorization": f"Bearer {token_for(f'{user}_adm', admin=True)}"}
    # The admin's reads resolve to the admin's own subtree: the user's secret is not there.
    assert (await client.get("/api/v1/secrets/theirs", headers=admin)).status_code == 404
    listed = await client.get(f"/api/v1/admin/users/{user}/secrets", headers=admin)
    assert listed.status_code == 200 and "value" not in listed.text
    assert [s["key"] for s in listed.json()["secrets"]] == ["theirs"]


# -- Docker registry keys through the generic operations --------------------------------------

DOCKER = "/api/v1/secrets/docker"


async def test_docker_keys_have_versions_rollback_and_metadata(client, auth):
    for password in ("p1", "p2"):
        stored = await client.post(
            DOCKER, json={"registry": "ghcr.io", "username": "u", "password": password}, headers=auth
        )
        assert stored.status_code == 201, stored.text
    history = await client.get(f"{DOCKER}/ghcr.io/versions", headers=auth)
    assert history.status_code == 200, history.text
    assert history.json()["key"] == "docker/ghcr.io" and history.json()["current_version"] == 2
    first = await client.get(f"{DOCKER}/ghcr.io/versions/1", headers=auth)
    assert first.status_code == 200 and first.json()["value"] == "p1", first.text
    rolled = await client.post(f"{DOCKER}/ghcr.io/rollback", json={"to_version": 1}, headers=auth)
    assert rolled.status_code == 201 and rolled.json()["new_version"] == 3, rolled.text
    exported = await client.get(f"{DOCKER}/ghcr.io/credentials?format=railway", headers=auth)
    assert exported.json() == {"username": "u", "password": "p1"}
    metadata = await client.get(f"{DOCKER}/ghcr.io/metadata", headers=auth)
    assert metadata.status_code == 200 and metadata.json()["type"] == "docker_credentials"
    patched = await client.patch(f"{DOCKER}/ghcr.io/metadata", json={"tags": ["ci"]}, headers=auth)
    assert patched.status_code == 200 and patched.json()["tags"] == ["ci"], patched.text
    listed = {s["key"]: s["tags"] for s in (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]}
    assert listed == {"docker/ghcr.io": ["ci"]}
    # A registry name spelled another way is the same key.
    assert (await client.get(f"{DOCKER}/GHCR.io/versions", headers=auth)).json()["current_version"] == 3


async def test_docker_generic_routes_keep_users_apart(client, auth, token_for, user):
    stored = await client.post(DOCKER, json={"registry": "ghcr.io", "username": "u", "password": "p"}, headers=auth)
    assert stored.status_code == 201
    bob = {"Authorization": f"Bearer {token_for(user + '_bob')}"}
    for method, path, body in [
        ("GET", f"{DOCKER}/ghcr.io/versions", None),
        ("GET", f"{DOCKER}/ghcr.io/versions/1", None),
        ("GET", f"{DOCKER}/ghcr.io/metadata", None),
        ("PATCH", f"{DOCKER}/ghcr.io/metadata", {"tags": ["x"]}),
        ("POST", f"{DOCKER}/ghcr.io/rollback", {"to_version": 1}),
    ]:
        answer = await client.request(method, path, json=body, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
    assert (await client.get(f"{DOCKER}/ghcr.io/versions", headers=auth)).json()["current_version"] == 1


# -- the schema says what the server does --------------------------------------------------------


@pytest.fixture
async def openapi(client) -> dict:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    return answer.json()


async def test_the_key_path_parameter_is_documented_as_enforced(openapi):
    for method in ("get", "delete"):
        (key,) = [p for p in openapi["paths"]["/api/v1/secrets/{key}"][method]["parameters"] if p["name"] == "key"]
        assert key["schema"]["maxLength"] == 128 and key["schema"]["pattern"].startswith("^[A-Za-z0-9]")


async def test_request_bodies_document_that_unknown_fields_are_refused(openapi):
    for name in ("SecretCreate", "RollbackCreate", "SecretMetadataUpdate", "RailwayTokenCreate"):
        assert openapi["components"]["schemas"][name]["additionalProperties"] is False


async def test_the_export_documents_csv_and_ndjson_and_routes_document_500(openapi):
    export = openapi["paths"]["/api/v1/secrets/audit/export"]["get"]["responses"]
    assert set(export["200"]["content"]) == {"text/csv", "application/x-ndjson"}
    assert "500" in openapi["paths"]["/api/v1/secrets"]["post"]["responses"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/secrets", {"GET", "POST", "OPTIONS"}),
        ("/api/v1/secrets/some-key", {"GET", "DELETE", "OPTIONS"}),
        ("/api/v1/secrets/some-key/metadata", {"GET", "PATCH", "OPTIONS"}),
        ("/api/v1/secrets/railway", {"POST", "DELETE", "OPTIONS"}),
    ],
)
async def test_options_lists_every_method_of_the_path(client, auth, path, methods):
    answer = await client.options(path, headers=auth)
    assert answer.status_code == 204
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == methods


async def test_a_nul_in_the_audit_key_filter_is_a_422_not_an_outage(client, auth):
    answer = await client.get("/api/v1/secrets/audit", params={"secret_key": "k\x00"}, headers=auth)
    assert _problem(answer, 422)["field"] == "secret_key"


async def test_a_registry_too_long_for_the_index_is_a_422_not_an_outage(client, auth):
    registry = ".".join(["a" * 61] * 4) + ":5000"  # a valid host name: 252 characters with the port
    answer = await client.post(DOCKER, json={"registry": registry, "username": "u", "password": "p"}, headers=auth)
    assert _problem(answer, 422)["field"] == "registry"
    assert (await client.get("/api/v1/secrets", headers=auth)).json() == {"secrets": []}
