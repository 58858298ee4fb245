"""OpenBao's file audit device as configured in infra/: every operation logged, values HMAC'd."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import hvac
import pytest

from adapters.vault.hvac_vault import HvacSecretVault
from domain.values import SecretValue
from tests.support.openbao import start_dev_openbao

pytestmark = pytest.mark.integration


INFRA = Path(__file__).parents[2] / "infra" / "openbao"
AUDIT_STANZA = re.compile(r'^audit "file" "file" \{\n.*?^\}\n', re.MULTILINE | re.DOTALL)
LOG_PATH = "/vault/logs/audit.log"


def audit_stanza(config: Path) -> str:
    found = AUDIT_STANZA.findall(config.read_text())
    assert len(found) == 1, f"{config.name} has one file audit device"
    return found[0]


def test_every_config_declares_the_same_json_file_device():
    production = audit_stanza(INFRA / "production.hcl")
    assert f'file_path = "{LOG_PATH}"' in production and 'format    = "json"' in production
    dev = audit_stanza(INFRA / "dev.hcl")
    assert re.sub(r'file_path = "[^"]+"', "", dev) == re.sub(r'file_path = "[^"]+"', "", production)
    assert LOG_PATH in audit_stanza(INFRA / "audit-file.hcl")
    rotation = (INFRA / "logrotate-audit.conf").read_text()
    assert LOG_PATH in rotation and "daily" in rotation and "rotate 30" in rotation and "HUP" in rotation


@pytest.fixture
def audited_openbao(tmp_path):
    """A dev server with dev.hcl's audit device (only that stanza: dev mode brings its own storage
    and listener), writing to a file under tmp_path."""
    log = tmp_path / "audit.log"
    stanza = re.sub(r'file_path = "[^"]+"', f'file_path = "{log}"', audit_stanza(INFRA / "dev.hcl"))
    config = tmp_path / "audit.hcl"
    config.write_text(stanza)
    server = start_dev_openbao(config_file=config)
    yield server, log
    server.stop()


async def test_kv_operations_are_logged_with_values_hmaced(audited_openbao):
    server, log = audited_openbao
    canary = f"device-canary-{uuid.uuid4().hex}"
    path = f"users/alice/custom/{uuid.uuid4().hex[:8]}"
    vault = HvacSecretVault(hvac.Client(url=server.addr, token=server.root_token), mount="secret")
    try:
        written = await vault.write(path, {"value": SecretValue(canary)}, cas=0)
        read = await vault.read(path)
        assert read.data["value"].reveal() == canary and read.version == written.version == 1
    finally:
        await vault.close()

    raw = log.read_text()
    assert canary not in raw
    entries = [json.loads(line) for line in raw.splitlines()]
    touching = [e for e in entries if e.get("request", {}).get("path") == f"secret/data/{path}"]
    seen = {(e["type"], e["request"]["operation"]) for e in touching}
    assert {("request", "create"), ("response", "create"), ("request", "read"), ("response", "read")} <= seen, seen

    # The written value (request body) and the read value (response body) are there, HMAC'd.
    [write_request] = [e for e in touching if (e["type"], e["request"]["operation"]) == ("request", "create")]
    assert write_request["request"]["data"]["data"]["value"].startswith("hmac-sha256:")
    [read_response] = [e for e in touching if (e["type"], e["request"]["operation"]) == ("response", "read")]
    hmaced = read_response["response"]["data"]["data"]["value"]
    assert hmaced.startswith("hmac-sha256:")
    # Tokens are HMAC'd too.
    assert server.root_token not in raw
    assert all(e["auth"]["client_token"].startswith("hmac-sha256:") for e in touching if e["auth"].get("client_token"))

    # And it is the canary's HMAC: Vault's audit-hash endpoint gives the same for the same input.
    client = hvac.Client(url=server.addr, token=server.root_token)
    try:
        expected = client.sys.calculate_hash(path="file", input_to_hash=canary)["hash"]
    finally:
        client.adapter.close()
    assert hmaced == expected == write_request["request"]["data"]["data"]["value"]
