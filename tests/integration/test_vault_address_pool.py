"""VAULT_ADDR with several nodes: hvac requests follow the node that can answer.

Against the session's real OpenBao plus two loopback stand-ins: a port nobody listens on (a dead
node) and a tiny HTTP server that answers like a sealed or leaderless standby.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from adapters.vault.address_pool import FailoverSession, VaultAddressPool
from adapters.vault.client import build_client
from adapters.vault.hvac_vault import HvacSecretVault
from domain.values import SecretValue
from tests.support.openbao import free_port

pytestmark = pytest.mark.integration


class _Standby(BaseHTTPRequestHandler):
    status = 503
    body: ClassVar[dict[str, list[str]]] = {"errors": ["Vault is sealed"]}
    slow_seconds = 0.0
    hits = 0

    def _answer(self) -> None:
        type(self).hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.slow_seconds:
            time.sleep(self.slow_seconds)
        payload = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_LIST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def standby():
    def start(status: int, errors: list[str], slow_seconds: float = 0.0):
        handler = type(
            "Handler",
            (_Standby,),
            {"status": status, "body": {"errors": errors}, "slow_seconds": slow_seconds, "hits": 0},
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    servers: list[ThreadingHTTPServer] = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _vault(addresses: list[str], token: str) -> HvacSecretVault:
    client = build_client(addr=addresses[0], token=token, addresses=addresses, timeout=2)
    client.session.pool.failover_seconds = 3  # type: ignore[attr-defined]
    return HvacSecretVault(client, mount="mirage")


async def test_a_dead_first_node_is_skipped_and_the_live_one_becomes_active(openbao):
    dead = f"http://127.0.0.1:{free_port()}"
    vault = _vault([dead, openbao.addr], openbao.root_token)
    try:
        written = await vault.write("pool/dead-first", {"value": SecretValue("one")}, cas=0)
        assert (await vault.read("pool/dead-first")).data["value"] == SecretValue("one")
        assert written.version == 1
        pool = vault.client.session.pool
        assert pool.active == openbao.addr and pool.failovers >= 1
    finally:
        await vault.close()


@pytest.mark.parametrize(
    ("status", "errors"),
    [(503, ["Vault is sealed"]), (500, ["local node not active but active cluster node not found"])],
)
async def test_a_sealed_or_leaderless_node_is_passed_over(openbao, standby, status, errors):
    sealed, handler = standby(status, errors)
    vault = _vault([sealed, openbao.addr], openbao.root_token)
    try:
        await vault.write(f"pool/standby-{status}", {"value": SecretValue("two")}, cas=0)
        assert (await vault.read(f"pool/standby-{status}")).version == 1
        assert vault.client.session.pool.active == openbao.addr
        assert handler.hits >= 1
    finally:
        await vault.close()


def test_a_request_that_may_have_reached_vault_is_not_sent_again(standby):
    """A read timeout after the request went out: another node could apply the same write twice."""
    slow, handler = standby(200, [], slow_seconds=1.5)
    other, other_handler = standby(200, [])
    session = FailoverSession(VaultAddressPool([slow, other], failover_seconds=2), pool_maxsize=2)
    with pytest.raises(requests.ReadTimeout):
        session.post(f"{slow}/v1/mirage/data/x", json={"data": {}}, timeout=0.5)
    assert handler.hits == 1 and other_handler.hits == 0


def test_every_node_down_fails_after_the_failover_deadline():
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    session = FailoverSession(VaultAddressPool(dead, failover_seconds=0.5, pause_seconds=0.1), pool_maxsize=2)
    with pytest.raises(requests.ConnectionError):
        session.get(f"{dead[0]}/v1/sys/health", timeout=0.5)
