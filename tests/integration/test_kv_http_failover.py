"""The aiohttp data path follows the cluster's active node through the shared address pool."""

from __future__ import annotations

import uuid

import pytest

from adapters.vault.address_pool import VaultAddressPool
from adapters.vault.kv_http import KvHttpSecretVault, VaultDidNotAct, new_http_session
from domain.errors import VaultUnavailable
from domain.values import SecretValue
from tests.support.openbao import free_port

pytestmark = pytest.mark.integration

MOUNT = "mirage"


async def test_a_dead_first_node_is_skipped_and_the_answering_one_becomes_active(openbao) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    pool = VaultAddressPool([dead, openbao.addr])
    vault = KvHttpSecretVault(
        addr=dead,
        mount=MOUNT,
        token=lambda: openbao.root_token,
        session=new_http_session(),
        owns_session=True,
        pool=pool,
    )
    try:
        path = f"users/failover-{uuid.uuid4().hex[:8]}/custom/k"
        await vault.write(path, {"value": SecretValue("v-1")}, cas=0)
        assert pool.active == openbao.addr
        assert (await vault.read(path)).data["value"].reveal() == "v-1"
    finally:
        await vault.close()


async def test_with_every_node_dead_the_failure_says_vault_did_not_act() -> None:
    pool = VaultAddressPool([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"])
    vault = KvHttpSecretVault(
        addr=pool.base, mount=MOUNT, token=lambda: "t", session=new_http_session(), owns_session=True, pool=pool
    )
    try:
        with pytest.raises(VaultUnavailable) as raised:
            await vault.write("users/a/custom/k", {"value": SecretValue("v")}, cas=0)
        assert isinstance(raised.value.__cause__, VaultDidNotAct)  # safe for the retry layer to retry
    finally:
        await vault.close()
