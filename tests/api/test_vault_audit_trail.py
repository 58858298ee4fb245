"""In per-user mode Vault's own audit log names the user on every access to their secrets, and
agrees with the service's own audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest
from litestar.testing import AsyncTestClient

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER
from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.env import api_env
from tests.support.openbao import MOUNT, start_dev_openbao

pytestmark = pytest.mark.api


AUDIT_CONFIG = Path(__file__).parents[2] / "infra" / "openbao" / "audit-file.hcl"


@pytest.fixture
def audited_openbao(tmp_path, signing_keys):
    log = tmp_path / "audit.log"
    config = tmp_path / "audit.hcl"
    config.write_text(AUDIT_CONFIG.read_text().replace("/vault/logs/audit.log", str(log)))
    server = start_dev_openbao(config_file=config)
    setup = JwtAuthSetup(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=signing_keys[1].read_text())
    bootstrap_vault(hvac.Client(url=server.addr, token=server.root_token), MOUNT, jwt=setup, user_auth="jwt")
    yield server, log
    server.stop()


async def test_every_vault_access_for_a_user_is_logged_under_their_identity(
    audited_openbao, database_url, signing_keys, auth, user
):
    server, log = audited_openbao
    env = api_env(server, database_url, signing_keys[1], user_auth="jwt") | {"CACHE_TTL_SECONDS": "0"}
    value = "audit-trail-canary"
    async with AsyncTestClient(app=create_app(settings=load_settings(env))) as client:
        assert (
            await client.post("/api/v1/secrets", json={"key": "k", "value": value}, headers=auth)
        ).status_code == 201
        assert (await client.get("/api/v1/secrets/k", headers=auth)).json()["value"] == value
        assert (await client.delete("/api/v1/secrets/k", headers=auth)).status_code == 200
        service_trail = (await client.get("/api/v1/secrets/audit?secret_key=k", headers=auth)).json()["logs"]

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    touching = [e for e in entries if f"users/{user}/" in e.get("request", {}).get("path", "")]
    operations = {(e["type"], e["request"]["operation"], e["request"]["path"].split("/")[1]) for e in touching}
    assert {
        ("request", "create", "data"),  # the store
        ("request", "read", "data"),  # the read
        ("request", "read", "metadata"),
        ("request", "delete", "data"),  # the soft delete of the newest version
    } <= operations
    assert {e["auth"]["display_name"] for e in touching} == {f"jwt-{user}"}
    assert value not in log.read_text()
    # The service's own trail tells the same story: the same user, the same three operations.
    assert [(e["action"], e["outcome"], e["actor"], e["user_id"]) for e in service_trail] == [
        ("delete", "success", user, user),
        ("read", "success", user, user),
        ("create", "success", user, user),
    ]
