"""TTLs through the HTTP API on real OpenBao and PostgreSQL: 410 after expiry, the cleanup pass
(`mirage-secrets secrets cleanup`) soft-deletes, a rollback restores inside the recovery window,
and after it every version is destroyed; each step on the audit trail."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.env import api_env

pytestmark = pytest.mark.api

DEADLINE_SECONDS = 20


async def poll(check, *, deadline: float = DEADLINE_SECONDS):
    """`check()` until it returns something truthy, or fail at the deadline."""
    end = time.monotonic() + deadline
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail("condition not met before the deadline")
        await asyncio.sleep(0.2)


def cleanup_cli(settings_env: dict[str, str], *args: str, recovery_days: str = "30") -> str:
    env = {**os.environ, **settings_env, "SECRET_RECOVERY_DAYS": recovery_days, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mirage-secrets"), "secrets", "cleanup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def cli_env(settings, openbao, database_url, signing_keys):
    return api_env(openbao, database_url, signing_keys[1], user_auth=settings.vault.user_auth)


async def events(client, auth, action):
    answer = await client.get("/api/v1/secrets/audit", params={"action": action}, headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["logs"]


async def test_a_ttl_secret_reads_then_expires_is_cleaned_restored_and_destroyed(client, auth, user, cli_env):
    stored = await client.post(
        "/api/v1/secrets", json={"key": "short-lived", "value": "first-value-7f3a", "ttl": "2s"}, headers=auth
    )
    assert stored.status_code == 201, stored.text
    read = await client.get("/api/v1/secrets/short-lived", headers=auth)
    assert read.status_code == 200 and read.json()["value"] == "first-value-7f3a"
    expires_at = datetime.fromisoformat(read.json()["metadata"]["expires_at"])
    assert timedelta(0) < expires_at - datetime.now(UTC) <= timedelta(seconds=3)

    async def gone():
        answer = await client.get("/api/v1/secrets/short-lived", headers=auth)
        return answer if answer.status_code == 410 else None

    expired = await poll(gone)
    assert expired.json()["type"].endswith("/secret-expired")
    assert "first-value-7f3a" not in expired.text
    listed = (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]
    assert [(s["key"], s["expired"]) for s in listed] == [("short-lived", True)]

    # A dry run says what it would do and does nothing.
    preview = cleanup_cli(cli_env, "--dry-run")
    assert f"would expire {user}/short-lived" in preview
    assert (await client.get("/api/v1/secrets/short-lived", headers=auth)).status_code == 410

    done = cleanup_cli(cli_env)
    assert f"expire {user}/short-lived" in done
    assert (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"] == []
    history = (await client.get("/api/v1/secrets/short-lived/versions", headers=auth)).json()["versions"]
    assert [(v["version"], v["deleted"]) for v in history] == [(1, True)]
    [expire] = await events(client, auth, "expire")
    assert (expire["actor"], expire["user_id"], expire["secret"], expire["outcome"]) == (
        "system",
        user,
        "short-lived",
        "success",
    )
    # A second pass finds nothing more to do for it.
    assert f"{user}/short-lived" not in cleanup_cli(cli_env)

    # Inside the recovery window a rollback brings it back, for good (its expiry is cleared).
    restored = await client.post("/api/v1/secrets/short-lived/rollback", json={"to_version": 1}, headers=auth)
    assert restored.status_code == 201, restored.text
    again = await client.get("/api/v1/secrets/short-lived", headers=auth)
    assert again.status_code == 200 and again.json()["value"] == "first-value-7f3a"
    assert again.json()["metadata"]["expires_at"] is None

    # Expire it again, then a pass with the window shortened to 0 days destroys every version.
    patched = await client.patch("/api/v1/secrets/short-lived/metadata", json={"ttl": 1}, headers=auth)
    assert patched.status_code == 200, patched.text
    await poll(gone)
    cleanup_cli(cli_env)
    destroyed = cleanup_cli(cli_env, recovery_days="0")
    assert f"destroy {user}/short-lived" in destroyed
    assert (await client.get("/api/v1/secrets/short-lived/versions", headers=auth)).status_code == 404
    rollback = await client.post("/api/v1/secrets/short-lived/rollback", json={"to_version": 1}, headers=auth)
    assert rollback.status_code == 404
    [destroy] = await events(client, auth, "destroy")
    assert (destroy["actor"], destroy["secret"], destroy["outcome"]) == ("system", "short-lived", "success")
    assert len(await events(client, auth, "expire")) == 2


async def test_ttl_rules_are_clear_422s_and_change_nothing(client, auth):
    cases = [
        {"ttl": "2w"},
        {"ttl": 0},
        {"ttl": -5},
        {"ttl": "3651d"},
        {"ttl": "1h", "expires_at": "2030-01-01T00:00:00Z"},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "2030-01-01T00:00:00"},
        {"rotate_every": 0},
    ]
    for extra in cases:
        answer = await client.post("/api/v1/secrets", json={"key": "rules", "value": "v", **extra}, headers=auth)
        assert answer.status_code == 422, (extra, answer.text)
        assert answer.json()["field"] in ("ttl", "expires_at", "rotate_every"), answer.text
    assert (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"] == []
    reserved = await client.post("/api/v1/secrets", json={"key": "expiring", "value": "v"}, headers=auth)
    assert reserved.status_code == 422 and reserved.json()["type"].endswith("/reserved-key")


async def test_metadata_sets_and_clears_expiry_and_the_expiring_list(client, auth):
    await client.post(
        "/api/v1/secrets", json={"key": "api-key", "value": "k", "ttl": "10d", "rotate_every": 30}, headers=auth
    )
    await client.post("/api/v1/secrets", json={"key": "later", "value": "k", "ttl": "40d"}, headers=auth)
    metadata = (await client.get("/api/v1/secrets/api-key/metadata", headers=auth)).json()
    assert metadata["rotate_every"] == 30 and metadata["expires_at"] is not None

    soon = (await client.get("/api/v1/secrets/expiring", params={"within": "14d"}, headers=auth)).json()
    assert [(s["key"], s["source"], s["days_left"]) for s in soon["secrets"]] == [("api-key", "ttl", 9)]
    wide = (await client.get("/api/v1/secrets/expiring", params={"within": "45d"}, headers=auth)).json()
    assert [(s["key"], s["source"]) for s in wide["secrets"]] == [
        ("api-key", "ttl"),
        ("api-key", "rotation_reminder"),
        ("later", "ttl"),
    ]
    bad = await client.get("/api/v1/secrets/expiring", params={"within": "soon"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "within"

    cleared = await client.patch("/api/v1/secrets/api-key/metadata", json={"expires_at": None}, headers=auth)
    assert cleared.status_code == 200 and cleared.json()["expires_at"] is None
    listed = {s["key"]: s for s in (await client.get("/api/v1/secrets", headers=auth)).json()["secrets"]}
    assert listed["api-key"]["expires_at"] is None and listed["later"]["expires_at"] is not None
    assert listed["api-key"]["version_count"] == 1 and listed["api-key"]["rotate_every"] == 30


async def test_each_warning_threshold_is_written_once(client, auth, user, cli_env):
    await client.post("/api/v1/secrets", json={"key": "cert", "value": "pem-9c1d", "ttl": "10d"}, headers=auth)
    first = cleanup_cli(cli_env)
    assert f"warn {user}/cert (ttl expiry within 14 days)" in first
    cleanup_cli(cli_env)
    [warning] = await events(client, auth, "expiry_warning")
    assert (warning["actor"], warning["secret"]) == ("system", "cert")
    assert "within 14 days" in warning["reason"]

    await client.patch("/api/v1/secrets/cert/metadata", json={"ttl": "20h"}, headers=auth)
    cleanup_cli(cli_env)
    cleanup_cli(cli_env)
    reasons = sorted(e["reason"].rsplit(": ", 1)[1] for e in await events(client, auth, "expiry_warning"))
    assert reasons == ["within 1 days", "within 14 days"]
    assert (await client.get("/api/v1/secrets/cert", headers=auth)).json()["value"] == "pem-9c1d"


async def test_an_environment_variable_with_a_ttl_expires_on_its_own(client, auth):
    env = "/api/v1/environments/ttl-env"
    short = await client.post(f"{env}/secrets", json={"key": "TEMP_TOKEN", "value": "tmp-51ab", "ttl": 1}, headers=auth)
    assert short.status_code == 201, short.text
    await client.post(f"{env}/secrets", json={"key": "KEEP", "value": "keep-0e2c"}, headers=auth)
    listed = (await client.get(f"{env}/secrets", headers=auth)).json()
    assert listed["secrets"] == ["KEEP", "TEMP_TOKEN"] and set(listed["expires_at"]) == {"TEMP_TOKEN"}

    async def gone():
        answer = await client.get(f"{env}/secrets/TEMP_TOKEN", headers=auth)
        return answer if answer.status_code == 410 else None

    expired = await poll(gone)
    assert "tmp-51ab" not in expired.text and expired.json()["type"].endswith("/secret-expired")
    listed = (await client.get(f"{env}/secrets", headers=auth)).json()
    assert (listed["secrets"], listed["expired"]) == (["KEEP"], ["TEMP_TOKEN"])
    values = (await client.get(f"{env}/values", params={"purpose": "run"}, headers=auth)).json()
    assert (values["secrets"], values["expired"]) == ({"KEEP": "keep-0e2c"}, ["TEMP_TOKEN"])

    # A new value without a TTL drops the passed expiry; names of our own are refused.
    await client.post(f"{env}/secrets", json={"key": "TEMP_TOKEN", "value": "tmp-2"}, headers=auth)
    assert (await client.get(f"{env}/secrets/TEMP_TOKEN", headers=auth)).json()["value"] == "tmp-2"
    reserved = await client.post(f"{env}/secrets", json={"key": "__mirage_expires_at", "value": "x"}, headers=auth)
    assert reserved.status_code == 422
    both = await client.post(
        f"{env}/secrets", json={"key": "X", "value": "x", "ttl": 5, "expires_at": "2030-01-01T00:00:00Z"}, headers=auth
    )
    assert both.status_code == 422 and both.json()["field"] == "ttl"
