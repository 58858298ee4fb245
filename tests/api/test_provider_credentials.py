"""Provider credentials through the API: Railway, GitHub, Docker registries, environments, sync.

Real OpenBao and PostgreSQL; Railway and GitHub are the local wire-format servers; registry logins
go to a real `docker-registry` (htpasswd) and to a Bearer-token registry. Both Vault modes.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import DOCKER, GITHUB, RAILWAY, provider_env
from tests.support.registry import REGISTRY_USERS

pytestmark = pytest.mark.api


def headers(token_for, user, **kw):
    return {"Authorization": f"Bearer {token_for(user, **kw)}"}


# -- Railway ------------------------------------------------------------------------------------


async def test_railway_store_status_validate_delete(api, auth, railway, database_url, user, token_for):
    token = railway.add_account_token()
    stored = await api.post(RAILWAY, json={"token": token}, headers=auth)
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert body["success"] is True and body["validated"] is True and body["stored_at"]
    assert body["token_kind"] == "account"

    status = (await api.get(f"{RAILWAY}/status", headers=auth)).json()
    assert status["configured"] is True and status["source"] == "vault" and status["needs_rotation"] is False
    assert status["last_validated"]

    validated = await api.post(f"{RAILWAY}/validate", headers=auth)
    assert validated.status_code == 200
    assert validated.json()["valid"] is True and "variables:write" in validated.json()["permissions"]
    later = (await api.get(f"{RAILWAY}/status", headers=auth)).json()["last_validated"]
    assert later >= status["last_validated"]

    # Listed by the generic API, never with its value.
    listed = (await api.get("/api/v1/secrets", headers=auth)).json()["secrets"]
    assert [(s["key"], s["type"]) for s in listed] == [("railway", "railway_token")]
    assert token not in str(listed)

    # Two environments known to the service.
    for env_id in ("staging", "prod"):
        assert (
            await api.post(f"/api/v1/environments/{env_id}/secrets", json={"key": "A", "value": "1"}, headers=auth)
        ).status_code == 201
    deleted = await api.delete(RAILWAY, headers=auth)
    assert deleted.json() == {"success": True, "affected_environments": 2}
    gone = (await api.get(f"{RAILWAY}/status", headers=auth)).json()
    assert gone["configured"] is False and gone["source"] is None
    # Soft delete: the history is still there for rollback.
    versions = (await api.get("/api/v1/secrets/railway/versions", headers=auth)).json()["versions"]
    assert [v["deleted"] for v in versions] == [True]


async def test_railway_rejection_is_422_with_railways_message_and_nothing_stored(api, auth, railway):
    response = await api.post(RAILWAY, json={"token": "00000000-0000-0000-0000-000000000000"}, headers=auth)
    assert response.status_code == 422
    problem = response.json()
    assert "Railway answered: Not Authorized" in problem["detail"] and problem["provider"] == "railway"
    assert (await api.get(f"{RAILWAY}/status", headers=auth)).json()["configured"] is False
    assert (await api.get("/api/v1/secrets/railway/versions", headers=auth)).status_code == 404


async def test_railway_rate_limit_and_outage_store_nothing(api, auth, railway):
    token = railway.add_account_token()
    railway.rate_limit(retry_after=42)
    limited = await api.post(RAILWAY, json={"token": token}, headers=auth)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "42"
    railway.fail(503)
    down = await api.post(RAILWAY, json={"token": token}, headers=auth)
    assert down.status_code == 503 and int(down.headers["retry-after"]) > 0
    assert (await api.get("/api/v1/secrets/railway/versions", headers=auth)).status_code == 404


async def test_rotate_then_roll_back_and_the_client_follows(api, auth, railway, user, token_for):
    first = railway.add_account_token()
    second = railway.add_project_token(project_id="p1", environment_id="e1")
    assert (await api.post(RAILWAY, json={"token": first}, headers=auth)).status_code == 201
    rotated = await api.post(f"{RAILWAY}/rotate", json={"new_token": second}, headers=auth)
    assert rotated.status_code == 201, rotated.text
    assert rotated.json() == {"success": True, "version": 2, "previous_version": 1}

    await api.post("/api/v1/environments/web/secrets", json={"key": "PORT", "value": "8080"}, headers=auth)
    sync_body = {"project_id": "p1", "environment_id": "e1"}

    async def sync_and_capture():
        railway.requests.clear()
        done = await api.post("/api/v1/environments/web/secrets/sync", json=sync_body, headers=auth)
        assert done.status_code == 200, done.text
        upserts = [r for r in railway.graphql_requests() if "variableCollectionUpsert" in r.json()["query"]]
        assert len(upserts) == 1
        return upserts[0]

    # Version 2 is a project token: sent as Project-Access-Token, never as a bearer.
    upsert = await sync_and_capture()
    assert upsert.header("project-access-token") == second and upsert.header("authorization") is None
    assert railway.variables[("p1", "e1", None)] == {"PORT": "8080"}

    rollback = await api.post("/api/v1/secrets/railway/rollback", json={"to_version": 1}, headers=auth)
    assert rollback.json() == {"success": True, "new_version": 3, "restored_from": 1}
    old = (await api.get("/api/v1/secrets/railway/versions/1", headers=auth)).json()
    assert old["value"] == first
    # After the rollback the account token is used again, as a bearer (ids remembered from the first sync).
    sync_body = {}
    upsert = await sync_and_capture()
    assert upsert.header("authorization") == f"Bearer {first}" and upsert.header("project-access-token") is None
    status = (await api.get(f"{RAILWAY}/status", headers=auth)).json()
    assert (status["version"], status["token_kind"]) == (3, "account")


async def test_a_user_without_a_token_gets_a_clear_problem(api, auth):
    await api.post("/api/v1/environments/e/secrets", json={"key": "A", "value": "1"}, headers=auth)
    response = await api.post(
        "/api/v1/environments/e/secrets/sync", json={"project_id": "p", "environment_id": "e"}, headers=auth
    )
    assert response.status_code == 412
    problem = response.json()
    assert problem["link"] == "/settings/credentials#railway" and "Railway token" in problem["detail"]


# -- GitHub -------------------------------------------------------------------------------------


async def test_github_store_status_delete(api, auth, github):
    token = github.add_token("ghp_", login="octo", scopes="repo, read:org", expiration="2030-09-03 02:34:04 UTC")
    stored = await api.post(GITHUB, json={"token": token}, headers=auth)
    assert stored.status_code == 201 and stored.json() == {"success": True, "username": "octo"}
    status = (await api.get(f"{GITHUB}/status", headers=auth)).json()
    assert status["configured"] is True and status["username"] == "octo"
    assert status["scopes"] == ["repo", "read:org"] and status["token_type"] == "classic"
    assert status["expires_at"].startswith("2030-09-03T02:34:04") and status["last_validated"]
    assert (await api.delete(GITHUB, headers=auth)).json() == {"success": True}
    assert (await api.get(f"{GITHUB}/status", headers=auth)).json()["configured"] is False


async def test_github_bad_credentials_store_nothing(api, auth):
    response = await api.post(GITHUB, json={"token": "ghp_notarealtoken"}, headers=auth)
    assert response.status_code == 422 and "GitHub answered: Bad credentials" in response.json()["detail"]
    assert (await api.get(f"{GITHUB}/status", headers=auth)).json()["configured"] is False


# -- Docker -------------------------------------------------------------------------------------


async def test_docker_credentials_against_the_real_registry(api, auth, local_docker_registry):
    host = local_docker_registry.host
    password = REGISTRY_USERS["mirage"]
    stored = await api.post(
        DOCKER,
        json={"registry": host, "username": "mirage", "password": password, "email": "m@example.com"},
        headers=auth,
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["registry"] == host
    assert (
        await api.post(DOCKER, json={"registry": "ghcr.io", "username": "u", "password": "p"}, headers=auth)
    ).status_code == 201

    assert (await api.get(DOCKER, headers=auth)).json()["registries"] == sorted([host, "ghcr.io"])
    read = (await api.get(f"{DOCKER}/{host}", headers=auth)).json()
    assert (read["registry"], read["username"], read["email"]) == (host, "mirage", "m@example.com")
    assert "password" not in read

    good = await api.post(f"{DOCKER}/{host}/test", headers=auth)
    assert good.status_code == 200 and good.json()["valid"] is True, good.text
    assert (await api.get(f"{DOCKER}/{host}", headers=auth)).json()["last_validated"]

    railway_pair = (await api.get(f"{DOCKER}/{host}/credentials?format=railway", headers=auth)).json()
    assert railway_pair == {"username": "mirage", "password": password}
    config = (await api.get(f"{DOCKER}/{host}/credentials?format=docker_config", headers=auth)).json()
    assert base64.b64decode(config["auths"][host]["auth"]).decode() == f"mirage:{password}"

    # A wrong password is a result, not an error.
    await api.post(DOCKER, json={"registry": host, "username": "mirage", "password": "wrong"}, headers=auth)
    bad = await api.post(f"{DOCKER}/{host}/test", headers=auth)
    assert bad.status_code == 200 and bad.json()["valid"] is False and "rejected" in bad.json()["detail"]

    listed = {s["key"]: s["type"] for s in (await api.get("/api/v1/secrets", headers=auth)).json()["secrets"]}
    assert listed == {f"docker/{host}": "docker_credentials", "docker/ghcr.io": "docker_credentials"}

    assert (await api.delete(f"{DOCKER}/ghcr.io", headers=auth)).json() == {"success": True, "registry": "ghcr.io"}
    assert (await api.get(DOCKER, headers=auth)).json()["registries"] == [host]
    assert (await api.get(f"{DOCKER}/ghcr.io", headers=auth)).status_code == 404


async def test_docker_bearer_login(api, auth, token_registry):
    host = token_registry.host
    await api.post(DOCKER, json={"registry": host, "username": "alice", "password": "wonderland"}, headers=auth)
    result = (await api.post(f"{DOCKER}/{host}/test", headers=auth)).json()
    assert result["valid"] is True and result["scheme"] == "bearer"


async def test_docker_bad_registry_names_are_refused(api, auth):
    for registry in ("../etc", "a/b/c", "bad host"):
        response = await api.post(DOCKER, json={"registry": registry, "username": "u", "password": "p"}, headers=auth)
        assert response.status_code == 422, registry


# -- Environments -------------------------------------------------------------------------------


async def test_environment_secrets_crud(api, auth):
    base = "/api/v1/environments/staging/secrets"
    stored = await api.post(base, json={"key": "DATABASE_URL", "value": "postgres://x"}, headers=auth)
    assert stored.status_code == 201 and stored.json()["success"] is True and stored.json()["key"] == "DATABASE_URL"
    await api.post(base, json={"key": "API_KEY", "value": "k"}, headers=auth)
    assert (await api.get(base, headers=auth)).json() == {
        "secrets": ["API_KEY", "DATABASE_URL"],
        "expired": [],
        "expires_at": {},
    }
    read = (await api.get(f"{base}/DATABASE_URL", headers=auth)).json()
    assert read["value"] == "postgres://x" and read["created_at"]
    assert (await api.delete(f"{base}/API_KEY", headers=auth)).json() == {"success": True, "key": "API_KEY"}
    assert (await api.get(base, headers=auth)).json() == {"secrets": ["DATABASE_URL"], "expired": [], "expires_at": {}}
    assert (await api.get(f"{base}/API_KEY", headers=auth)).status_code == 404
    assert (await api.post(base, json={"key": "1BAD", "value": "x"}, headers=auth)).status_code == 422


async def test_bulk_is_all_or_nothing(api, auth):
    base = "/api/v1/environments/bulk-env/secrets"
    refused = await api.post(f"{base}/bulk", json={"secrets": {"GOOD": "1", "BAD-NAME": "2"}}, headers=auth)
    assert refused.status_code == 422 and refused.json()["field"] == "key"
    assert (await api.get(base, headers=auth)).json() == {"secrets": [], "expired": [], "expires_at": {}}
    done = await api.post(f"{base}/bulk", json={"secrets": {"K1": "v1", "K2": "v2"}}, headers=auth)
    assert done.status_code == 201 and done.json()["stored"] == 2 and done.json()["version"] == 1


async def test_bulk_dotenv(api, auth):
    base = "/api/v1/environments/dotenv/secrets"
    text = (
        "# a comment\n\nexport DATABASE_URL=postgres://u:p@h/db\nQUOTED=\"a b\\nc\"\nSINGLE='x # y'\n"
        "PLAIN=value # trailing comment\nEMPTY=\n"
    )
    done = await api.post(f"{base}/bulk", json={"dotenv": text}, headers=auth)
    assert done.status_code == 201, done.text
    assert done.json()["stored"] == 5
    values = {
        k: (await api.get(f"{base}/{k}", headers=auth)).json()["value"]
        for k in ("DATABASE_URL", "QUOTED", "SINGLE", "PLAIN", "EMPTY")
    }
    assert values == {
        "DATABASE_URL": "postgres://u:p@h/db",
        "QUOTED": "a b\nc",
        "SINGLE": "x # y",
        "PLAIN": "value",
        "EMPTY": "",
    }
    bad = await api.post(f"{base}/bulk", json={"dotenv": "OK=1\nnot a line\n"}, headers=auth)
    assert bad.status_code == 422 and "line 2" in bad.json()["detail"]


async def test_concurrent_single_key_writes_lose_nothing(api, auth):
    base = "/api/v1/environments/race/secrets"
    responses = await asyncio.gather(
        *(api.post(base, json={"key": f"KEY_{i}", "value": str(i)}, headers=auth) for i in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert (await api.get(base, headers=auth)).json()["secrets"] == sorted(f"KEY_{i}" for i in range(10))


async def test_sync_dry_run_masks_values_and_shows_the_diff(api, auth, railway):
    token = railway.add_account_token()
    await api.post(RAILWAY, json={"token": token}, headers=auth)
    railway.variables[("proj", "env", "svc")] = {"SAME": "1", "CHANGED": "old", "ONLY_THERE": "z"}
    base = "/api/v1/environments/synced/secrets"
    await api.post(
        f"{base}/bulk", json={"secrets": {"SAME": "1", "CHANGED": "new-secret-value", "NEW": "n"}}, headers=auth
    )
    body = {"project_id": "proj", "environment_id": "env", "service_id": "svc"}
    preview = await api.post(f"{base}/sync?dry_run=true", json=body, headers=auth)
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["applied"] is False and plan["dry_run"] is True
    assert [c["key"] for c in plan["added"]] == ["NEW"]
    assert [c["key"] for c in plan["changed"]] == ["CHANGED"]
    assert [c["key"] for c in plan["removed"]] == ["ONLY_THERE"]
    assert plan["unchanged"] == 1
    assert "new-secret-value" not in preview.text and plan["changed"][0] == {
        "key": "CHANGED",
        "old": "********",
        "new": "********",
    }
    assert railway.variables[("proj", "env", "svc")]["CHANGED"] == "old"  # nothing pushed

    applied = (await api.post(f"{base}/sync", json=body, headers=auth)).json()
    assert applied["applied"] is True
    assert railway.variables[("proj", "env", "svc")] == {
        "SAME": "1",
        "CHANGED": "new-secret-value",
        "NEW": "n",
        "ONLY_THERE": "z",
    }


# -- Isolation and admin ------------------------------------------------------------------------


async def test_another_user_sees_none_of_it(api, user, token_for, local_docker_registry):
    alice, bob = headers(token_for, user + "_a"), headers(token_for, user + "_b")
    host = local_docker_registry.host
    await api.post(DOCKER, json={"registry": host, "username": "mirage", "password": "pw"}, headers=alice)
    await api.post("/api/v1/environments/shared/secrets", json={"key": "SECRET", "value": "alice"}, headers=alice)
    assert (await api.get(DOCKER, headers=bob)).json() == {"registries": [], "entries": []}
    assert (await api.get(f"{DOCKER}/{host}", headers=bob)).status_code == 404
    assert (await api.get(f"{DOCKER}/{host}/credentials", headers=bob)).status_code == 404
    assert (await api.get("/api/v1/environments/shared/secrets", headers=bob)).json() == {
        "secrets": [],
        "expired": [],
        "expires_at": {},
    }
    assert (await api.get("/api/v1/environments/shared/secrets/SECRET", headers=bob)).status_code == 404
    await api.post("/api/v1/environments/shared/secrets", json={"key": "SECRET", "value": "bob"}, headers=bob)
    assert (await api.get("/api/v1/environments/shared/secrets/SECRET", headers=alice)).json()["value"] == "alice"


async def test_migration_status_is_for_admins_only(api, auth, user, token_for):
    assert (await api.get("/api/v1/admin/migration-status", headers=auth)).status_code == 403
    admin = headers(token_for, user + "_admin", admin=True)
    status = await api.get("/api/v1/admin/migration-status", headers=admin)
    assert status.status_code == 200
    body = status.json()
    assert body["users"] == body["vault"] + body["env"] + body["none"] and body["vault_enabled"] is True


# -- Feature flag and legacy token --------------------------------------------------------------


async def test_vault_disabled_uses_the_env_token(openbao, database_url, signing_keys, railway, github, user, token_for):
    legacy = railway.add_account_token()
    env = provider_env(
        openbao, database_url, signing_keys, railway, github, SECRETS_VAULT_ENABLED="false", RAILWAY_API_TOKEN=legacy
    )
    auth = headers(token_for, user)
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        status = (await client.get(f"{RAILWAY}/status", headers=auth)).json()
        assert status == {
            "configured": True,
            "last_validated": None,
            "needs_rotation": False,
            "source": "env",
            "version": None,
            "token_kind": None,
            "expires_at": None,  # the shared token carries no TTL
            "expires_in_days": None,
            "warning": None,
        }
        assert (await client.post(RAILWAY, json={"token": legacy}, headers=auth)).status_code == 409
        await client.post("/api/v1/environments/x/secrets", json={"key": "A", "value": "1"}, headers=auth)
        railway.requests.clear()
        synced = await client.post(
            "/api/v1/environments/x/secrets/sync", json={"project_id": "p9", "environment_id": "e9"}, headers=auth
        )
        assert synced.status_code == 200 and synced.json()["token_source"] == "env"
        upsert = next(r for r in railway.graphql_requests() if "variableCollectionUpsert" in r.json()["query"])
        assert upsert.header("authorization") == f"Bearer {legacy}"
