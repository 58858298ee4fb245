"""What the settings page's status cards need, through the API on real OpenBao and PostgreSQL:
GitHub's expiry and repository count (from the GitHub wire fake), a Railway token's TTL warning,
Docker registries' `last_used_at`, and provider tokens in the expiring list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import provider_env

pytestmark = pytest.mark.api

GITHUB = "/api/v1/secrets/github"
RAILWAY = "/api/v1/secrets/railway"
DOCKER = "/api/v1/secrets/docker"


# railway, github and token_registry: the module-scoped wire fakes of tests/api/conftest.py.


@pytest.fixture(scope="module")
async def api(openbao, database_url, signing_keys, railway, github, token_registry):
    env = provider_env(openbao, database_url, signing_keys, railway, github, token_registry.host)
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        yield client


def github_expiration(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")  # GitHub's header format (PROVIDERS.md)


async def test_github_status_shows_the_expiry_and_repository_count(api, auth, github):
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10, hours=1)
    token = github.add_token("github_pat_", login="octo", expiration=github_expiration(expires), repositories=57)
    github.requests.clear()
    assert (await api.post(GITHUB, json={"token": token}, headers=auth)).status_code == 201

    status = (await api.get(f"{GITHUB}/status", headers=auth)).json()
    assert datetime.fromisoformat(status["expires_at"]) == expires
    assert status["expires_in_days"] == 10
    assert "10 days" in status["warning"]
    assert status["repository_count"] == 57
    # Counted from one page of one repository (the Link header's last page), not by walking pages.
    listings = [r for r in github.requests if r.path == "/user/repos"]
    assert [r.query.get("per_page") for r in listings] == [["1"]]
    # Cached with the validation: the status card asks GitHub nothing.
    github.requests.clear()
    await api.get(f"{GITHUB}/status", headers=auth)
    assert github.requests == []

    soon = (await api.get("/api/v1/secrets/expiring", params={"within": "14d"}, headers=auth)).json()["secrets"]
    assert [(s["key"], s["source"], s["days_left"]) for s in soon] == [("github", "provider", 10)]


async def test_github_token_far_from_expiry_has_no_warning(api, auth, github):
    expires = datetime.now(UTC) + timedelta(days=90)
    token = github.add_token("ghp_", expiration=github_expiration(expires), public_repos=2, repositories=1)
    assert (await api.post(GITHUB, json={"token": token}, headers=auth)).status_code == 201
    status = (await api.get(f"{GITHUB}/status", headers=auth)).json()
    assert status["warning"] is None and status["expires_in_days"] in (89, 90)
    assert status["repository_count"] == 1


async def test_railway_status_warns_within_14_days_of_its_ttl(api, auth, railway):
    token = railway.add_account_token()
    assert (await api.post(RAILWAY, json={"token": token}, headers=auth)).status_code == 201
    assert (await api.get(f"{RAILWAY}/status", headers=auth)).json()["warning"] is None
    patched = await api.patch(f"{RAILWAY}/metadata", json={"ttl": "5d"}, headers=auth)
    assert patched.status_code == 200, patched.text
    status = (await api.get(f"{RAILWAY}/status", headers=auth)).json()
    assert status["expires_in_days"] == 4 and "rotate it soon" in status["warning"]
    assert status["expires_at"] == patched.json()["expires_at"]
    removed = (await api.delete(RAILWAY, headers=auth)).json()
    assert removed == {"success": True, "affected_environments": 0}


async def test_docker_entries_show_when_a_login_was_last_used(api, auth, token_registry):
    host = token_registry.host
    stored = await api.post(
        DOCKER, json={"registry": host, "username": "alice", "password": "wonderland"}, headers=auth
    )
    assert stored.status_code == 201
    [entry] = (await api.get(DOCKER, headers=auth)).json()["entries"]
    assert (entry["registry"], entry["last_used_at"]) == (host, None)

    before = datetime.now(UTC)
    assert (await api.post(f"{DOCKER}/{host}/test", headers=auth)).json()["valid"] is True
    [entry] = (await api.get(DOCKER, headers=auth)).json()["entries"]
    assert datetime.fromisoformat(entry["last_used_at"]) >= before - timedelta(seconds=1)
    read = (await api.get(f"{DOCKER}/{host}", headers=auth)).json()
    assert read["last_used_at"] == entry["last_used_at"] and "password" not in read
