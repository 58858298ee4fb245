"""Transit auto-unseal (infra/openbao/transit-unseal.hcl) with two real OpenBao processes: a key
provider holding a transit key, and a Raft node that unseals itself with it after a restart."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from adapters.vault.operations import VaultOperations
from adapters.vault.raft_server import BaoServer
from tests.support.cli import run_cli
from tests.support.deployment import INFRA, hcl
from tests.support.openbao import start_dev_openbao

pytestmark = pytest.mark.integration

AUTOUNSEAL_POLICY = """
path "transit/encrypt/mirage-autounseal" { capabilities = ["update"] }
path "transit/decrypt/mirage-autounseal" { capabilities = ["update"] }
"""


def _key_provider_token(provider) -> str:
    with httpx.Client(base_url=provider.addr, headers={"X-Vault-Token": provider.root_token}, timeout=10) as http:
        assert http.post("/v1/sys/mounts/transit", json={"type": "transit"}).status_code == 204
        assert http.post("/v1/transit/keys/mirage-autounseal").status_code in (200, 204)
        assert http.put("/v1/sys/policies/acl/autounseal", json={"policy": AUTOUNSEAL_POLICY}).status_code == 204
        answer = http.post(
            "/v1/auth/token/create", json={"policies": ["autounseal"], "period": "24h", "no_parent": True}
        )
        return answer.json()["auth"]["client_token"]


def _seal_block(provider_addr: str) -> str:
    """The documented example, pointed at the local key provider (its token stays in the environment)."""
    example = hcl(INFRA / "openbao" / "transit-unseal.hcl")["seal"][0]["transit"]
    return (
        'seal "transit" {\n'
        f"  address    = {json.dumps(provider_addr)}\n"
        f"  key_name   = {json.dumps(example['key_name'])}\n"
        f"  mount_path = {json.dumps(example['mount_path'])}\n"
        "}\n"
    )


def _wait_active(addr: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    with VaultOperations(addr) as ops:
        while ops.health_code() != 200:
            assert time.monotonic() < deadline, f"{addr} did not unseal itself"
            time.sleep(0.2)


def test_a_transit_sealed_node_unseals_itself_after_a_restart(tmp_path):
    provider = start_dev_openbao()
    node = None
    try:
        token = _key_provider_token(provider)
        node = BaoServer(
            tmp_path, node_id="auto", extra_config=_seal_block(provider.addr), env={"VAULT_TRANSIT_SEAL_TOKEN": token}
        ).start()
        init = run_cli({"VAULT_ADDR": node.addr}, "vault", "init", "--key-shares", "3", "--key-threshold", "2")
        assert init.returncode == 0, init.stdout + init.stderr
        assert init.stdout.count("Recovery share") == 3 and "unseals itself" in init.stdout
        root = next(line.split(": ", 1)[1] for line in init.stdout.splitlines() if line.startswith("Root token"))
        _wait_active(node.addr)
        headers = {"X-Vault-Token": root}
        with httpx.Client(base_url=node.addr, headers=headers, timeout=10) as http:
            assert http.post("/v1/sys/mounts/kv", json={"type": "kv", "options": {"version": "2"}}).status_code == 204
            deadline = time.monotonic() + 15
            while http.post("/v1/kv/data/probe", json={"data": {"v": "before restart"}}).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)

        node.stop()
        node.start()  # no unseal call from anyone: the transit seal does it
        _wait_active(node.addr)
        with VaultOperations(node.addr) as ops:
            status = ops.seal_status()
        assert (status.sealed, status.seal_type, status.recovery_seal) == (False, "transit", True)
        answer = httpx.get(f"{node.addr}/v1/kv/data/probe", headers=headers, timeout=10)
        assert answer.json()["data"]["data"] == {"v": "before restart"}
    finally:
        if node is not None:
            node.stop()
        provider.stop()
