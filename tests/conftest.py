"""Session-wide real servers: an in-memory OpenBao dev server per test session."""

from __future__ import annotations

import hvac
import pytest

from adapters.vault.bootstrap import ensure_kv_mount
from adapters.vault.hvac_vault import HvacSecretVault
from tests.support.openbao import start_dev_openbao

MOUNT = "mirage"


@pytest.fixture(scope="session")
def openbao():
    server = start_dev_openbao()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        ensure_kv_mount(client, MOUNT)
        client.adapter.close()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hvac_vault(openbao):
    vault = HvacSecretVault(hvac.Client(url=openbao.addr, token=openbao.root_token), mount=MOUNT)
    yield vault
    vault._pool.shutdown(wait=False)
