"""AppRole against a real OpenBao: renewal before expiry, re-login at max TTL and after revocation.

Each test module starts its own dev server: the TTLs here are seconds long, and nothing else
should share a server whose tokens keep expiring.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from adapters.vault.bootstrap import ensure_kv_mount
from adapters.vault.client import build_client
from adapters.vault.hvac_vault import HvacSecretVault
from adapters.vault.kv_http import KvHttpSecretVault, new_http_session
from adapters.vault.token_lifecycle import TokenKeepingVault, TokenLoginFailed, VaultTokenKeeper
from domain.values import SecretValue
from tests.support.openbao import DevOpenBao, start_dev_openbao
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

MOUNT = "mirage"
PATH = "users/u-approle/railway"
POLICY = f"""
path "{MOUNT}/data/*"     {{ capabilities = ["create", "read", "update"] }}
path "{MOUNT}/metadata/*" {{ capabilities = ["read", "update"] }}
"""


@pytest.fixture(scope="module")
def bao():
    server = start_dev_openbao()
    try:
        root = build_client(addr=server.addr, token=server.root_token)
        ensure_kv_mount(root, MOUNT)
        root.secrets.kv.v2.create_or_update_secret(path=PATH, secret={"token": "t-1"}, cas=0, mount_point=MOUNT)
        root.adapter.close()
        with _admin(server) as admin:
            admin.put("/v1/sys/policies/acl/mirage-svc", json={"policy": POLICY}).raise_for_status()
            admin.post("/v1/sys/auth/approle", json={"type": "approle"}).raise_for_status()
            for name, ttl, max_ttl in (("short", "2s", "5s"), ("long", "60s", "120s")):
                admin.post(
                    f"/v1/auth/approle/role/{name}",
                    json={
                        "token_policies": ["mirage-svc"],
                        "token_ttl": ttl,
                        "token_max_ttl": max_ttl,
                        "secret_id_num_uses": 0,
                        "secret_id_ttl": "10m",
                    },
                ).raise_for_status()
        yield server
    finally:
        server.stop()


def _admin(server: DevOpenBao) -> httpx.Client:
    return httpx.Client(
        base_url=server.addr, headers={"X-Vault-Token": server.root_token}, timeout=10.0, trust_env=False
    )


def _role_id(server: DevOpenBao, role: str) -> str:
    with _admin(server) as admin:
        return admin.get(f"/v1/auth/approle/role/{role}/role-id").json()["data"]["role_id"]


def _secret_id(server: DevOpenBao, role: str) -> str:
    with _admin(server) as admin:
        return admin.post(f"/v1/auth/approle/role/{role}/secret-id").json()["data"]["secret_id"]


def _wrapped_secret_id(server: DevOpenBao, role: str) -> str:
    with _admin(server) as admin:
        response = admin.post(f"/v1/auth/approle/role/{role}/secret-id", headers={"X-Vault-Wrap-TTL": "60s"})
        response.raise_for_status()
        body = response.json()
        assert body["data"] is None  # the secret id itself is only inside the wrapping token
        return body["wrap_info"]["token"]


def _service_vault(
    server: DevOpenBao, keeper_kwargs: dict, adapter: str = "hvac"
) -> tuple[VaultTokenKeeper, TokenKeepingVault]:
    """The keeper renews the hvac client's token; the aiohttp adapter reads it before each call,
    as the service's container wires them."""
    client = build_client(addr=server.addr, token=None, timeout=5.0)
    keeper = VaultTokenKeeper(
        client,
        login_client_factory=lambda: build_client(addr=server.addr, token=None, timeout=5.0),
        **keeper_kwargs,
    )
    if adapter == "kv_http":
        inner = KvHttpSecretVault(
            addr=server.addr, mount=MOUNT, token=lambda: client.token, session=new_http_session(), owns_session=True
        )
        return keeper, TokenKeepingVault(inner, keeper)
    return keeper, TokenKeepingVault(HvacSecretVault(client, mount=MOUNT), keeper)


@pytest.mark.parametrize("adapter", ["hvac", "kv_http"])
async def test_short_ttls_renewal_and_relogin_with_no_failed_request(bao, adapter) -> None:
    keeper, vault = _service_vault(
        bao,
        {"role_id": _role_id(bao, "short"), "wrapped_secret_id_token": _wrapped_secret_id(bao, "short")},
        adapter,
    )
    ok = 0
    failures: list[BaseException] = []
    try:
        async with asyncio.timeout(30):
            await keeper.start()
            assert keeper.logins == 1

            async def reader() -> None:
                nonlocal ok
                deadline = time.monotonic() + 8.0
                while time.monotonic() < deadline:
                    try:
                        entry = await vault.read(PATH)
                        assert entry.data["token"].reveal() == "t-1"
                        ok += 1
                    except Exception as exc:
                        failures.append(exc)
                    await asyncio.sleep(0.05)

            await asyncio.gather(*(reader() for _ in range(4)))
    finally:
        await vault.close()

    assert failures == [], [(f, f.__cause__) for f in failures[:3]]
    assert ok > 100
    assert keeper.renewals >= 2, keeper.stats()
    assert keeper.relogins >= 1, keeper.stats()
    assert keeper.relogin_reasons["max_ttl"] >= 1, keeper.stats()
    # No request ever met a dead token: the keeper acted before Vault had to say no.
    assert keeper.relogin_reasons["revoked"] == 0, keeper.stats()
    assert keeper.login_failures == 0


@pytest.mark.parametrize("adapter", ["hvac", "kv_http"])
async def test_revoked_token_relogin_and_the_next_request_succeeds(bao, adapter) -> None:
    keeper, vault = _service_vault(
        bao, {"role_id": _role_id(bao, "long"), "secret_id": _secret_id(bao, "long")}, adapter
    )
    try:
        async with asyncio.timeout(30):
            await keeper.start()
            start = (await vault.read(PATH)).version  # each parametrisation leaves two versions more
            revoked = keeper.client.token
            with _admin(bao) as admin:
                accessor = admin.post("/v1/auth/token/lookup", json={"token": revoked}).json()["data"]["accessor"]
                admin.post("/v1/auth/token/revoke-accessor", json={"accessor": accessor}).raise_for_status()

            entry = await vault.read(PATH)  # 403 -> token is dead -> login -> the read again

            assert entry.data["token"].reveal() == "t-1"
            assert keeper.relogin_reasons["revoked"] == 1
            assert keeper.client.token != revoked
            # And writes work with the new token.
            written = await vault.write(PATH, {"token": SecretValue("t-2")}, cas=start)
            assert written.version == start + 1
            assert (await vault.read(PATH)).data["token"].reveal() == "t-2"
            await vault.write(PATH, {"token": SecretValue("t-1")}, cas=start + 1)  # leave it as the other test expects
    finally:
        await vault.close()


async def test_a_wrapping_token_works_once(bao) -> None:
    wrapped = _wrapped_secret_id(bao, "long")
    role_id = _role_id(bao, "long")
    first, first_vault = _service_vault(bao, {"role_id": role_id, "wrapped_secret_id_token": wrapped})
    second, second_vault = _service_vault(bao, {"role_id": role_id, "wrapped_secret_id_token": wrapped})
    try:
        async with asyncio.timeout(30):
            await first.start()
            with pytest.raises(TokenLoginFailed):
                await second.start()  # someone already unwrapped it: a warning sign, and a clear error
            assert (await first_vault.read(PATH)).version >= 1
    finally:
        await first_vault.close()
        await second_vault.close()


async def test_permission_denied_is_not_mistaken_for_a_dead_token(bao) -> None:
    from domain.errors import VaultRefused

    keeper, vault = _service_vault(bao, {"role_id": _role_id(bao, "long"), "secret_id": _secret_id(bao, "long")})
    try:
        async with asyncio.timeout(30):
            await keeper.start()
            with pytest.raises(VaultRefused):
                await vault.soft_delete(PATH)  # the policy grants no delete
            assert keeper.relogins == 0
    finally:
        await vault.close()


async def test_start_without_vault_keeps_trying_and_logs_in_when_it_answers(bao) -> None:
    from domain.errors import VaultUnavailable
    from tests.support.ports import free_port

    # Point the login client at a closed port first, then at the real server.
    target = {"addr": f"http://127.0.0.1:{free_port()}"}
    client = build_client(addr=bao.addr, token=None, timeout=2.0)
    keeper = VaultTokenKeeper(
        client,
        role_id=_role_id(bao, "long"),
        secret_id=_secret_id(bao, "long"),
        login_client_factory=lambda: build_client(addr=target["addr"], token=None, timeout=2.0),
        retry_delay=0.05,
    )
    vault = TokenKeepingVault(HvacSecretVault(client, mount=MOUNT), keeper)
    try:
        async with asyncio.timeout(30):
            with pytest.raises(VaultUnavailable):
                await keeper.start()  # required by default
            await keeper.start(require_login=False)
            assert keeper.stats().logged_in is False
            with pytest.raises(VaultUnavailable):
                await vault.read(PATH)  # no token yet: a clear 503, not a 403
            target["addr"] = bao.addr
            # The background task gets there by itself.
            assert await eventually(lambda: keeper.stats().logged_in, within=25.0)
            assert (await vault.read(PATH)).data["token"].reveal() == "t-1"
    finally:
        await vault.close()
