"""EmbeddedOpenBao keeps its data, root token and unseal key across restarts."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest

from adapters.vault.embedded import EmbeddedOpenBao, EmbeddedVaultInfo
from tests.support.openbao import start_dev_openbao
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def _client(info: EmbeddedVaultInfo) -> httpx.Client:
    return httpx.Client(base_url=info.addr, headers={"X-Vault-Token": info.root_token}, timeout=10.0, trust_env=False)


@pytest.fixture
def server(tmp_path: Path):
    bao = EmbeddedOpenBao(tmp_path, port=free_port(consecutive=2))  # raft also listens on port + 1
    try:
        yield bao
    finally:
        bao.stop()


def test_secrets_and_root_token_survive_restart(server: EmbeddedOpenBao, tmp_path: Path) -> None:
    first = server.start()
    with _client(first) as client:
        client.post("/v1/sys/mounts/test", json={"type": "kv", "options": {"version": "2"}}).raise_for_status()
        client.post("/v1/test/data/x", json={"data": {"v": "1"}}).raise_for_status()

    server.stop()
    assert server.process is None
    second = server.start()

    assert second == first
    with _client(second) as client:
        health = client.get("/v1/sys/health")
        assert health.status_code == 200
        assert health.json()["initialized"] is True
        assert health.json()["sealed"] is False
        client.get("/v1/auth/token/lookup-self").raise_for_status()  # same root token still valid
        secret = client.get("/v1/test/data/x")
        secret.raise_for_status()
        assert secret.json()["data"]["data"] == {"v": "1"}

    vault_dir = tmp_path / "vault"
    assert stat.S_IMODE((vault_dir / "init.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(vault_dir.stat().st_mode) == 0o700


def test_refuses_port_taken_by_another_process(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        bao = EmbeddedOpenBao(tmp_path, port=port)
        with pytest.raises(RuntimeError, match="already in use"):
            bao.start()
        assert bao.process is None


def test_context_manager_stops_server(tmp_path: Path) -> None:
    bao = EmbeddedOpenBao(tmp_path, port=free_port(consecutive=2))  # raft also listens on port + 1
    with bao as info:
        process = bao.process
        assert process is not None
        with _client(info) as client:
            client.get("/v1/auth/token/lookup-self").raise_for_status()
    assert process.poll() is not None
    assert bao.process is None


def test_dev_server_helper_starts_a_clean_unsealed_server() -> None:
    dev = start_dev_openbao()
    try:
        info = EmbeddedVaultInfo(addr=dev.addr, root_token=dev.root_token)
        with _client(info) as client:
            client.post("/v1/secret/data/a", json={"data": {"k": "v"}}).raise_for_status()
            assert client.get("/v1/secret/data/a").json()["data"]["data"] == {"k": "v"}
    finally:
        dev.stop()
    assert dev.process.poll() is not None
