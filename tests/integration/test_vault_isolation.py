"""Issue 3: Vault itself refuses cross-user access, whatever path the service might build."""

from __future__ import annotations

import time
import uuid

import hvac
import hvac.exceptions as hvac_errors
import jwt
import pytest

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, issue_token
from adapters.vault.bootstrap import ADMIN_ROLE, USER_ROLE
from adapters.vault.sessions import JwtVaultSessions
from domain.errors import VaultRefused
from domain.values import Principal, SecretValue
from tests.support.openbao import MOUNT

pytestmark = pytest.mark.integration


def _login(openbao, token: str, role: str = USER_ROLE) -> hvac.Client:
    client = hvac.Client(url=openbao.addr)
    client.auth.jwt.jwt_login(role=role, jwt=token, path="jwt")
    return client


@pytest.fixture
def users(openbao, signing_keys):
    """Two fresh users, each with a secret written through their own Vault token."""
    alice, bob = f"alice_{uuid.uuid4().hex[:8]}", f"bob_{uuid.uuid4().hex[:8]}"
    clients = {}
    for name in (alice, bob):
        clients[name] = _login(openbao, issue_token(signing_keys[0], name))
        clients[name].secrets.kv.v2.create_or_update_secret(
            f"users/{name}/custom/k", {"value": f"{name}-secret"}, cas=0, mount_point=MOUNT
        )
    return alice, bob, clients


def test_a_users_vault_token_is_refused_on_every_operation_on_another_users_path(users):
    alice, bob, clients = users
    kv = clients[alice].secrets.kv.v2
    path = f"users/{bob}/custom/k"
    operations = {
        "read": lambda: kv.read_secret_version(path, mount_point=MOUNT, raise_on_deleted_version=True),
        "write": lambda: kv.create_or_update_secret(path, {"value": "pwned"}, cas=1, mount_point=MOUNT),
        "list": lambda: kv.list_secrets(f"users/{bob}/custom", mount_point=MOUNT),
        "metadata": lambda: kv.read_secret_metadata(path, mount_point=MOUNT),
        "metadata write": lambda: kv.update_metadata(path, custom_metadata={"x": "y"}, mount_point=MOUNT),
        "delete": lambda: kv.delete_latest_version_of_secret(path, mount_point=MOUNT),
        "undelete": lambda: kv.undelete_secret_versions(path, versions=[1], mount_point=MOUNT),
        "destroy": lambda: kv.destroy_secret_versions(path, versions=[1], mount_point=MOUNT),
        "destroy all": lambda: kv.delete_metadata_and_all_versions(path, mount_point=MOUNT),
    }
    refused = []
    for name, operation in operations.items():
        with pytest.raises(hvac_errors.Forbidden):
            operation()
        refused.append(name)
    assert refused == list(operations)
    # Bob's secret is untouched, and Alice can still use her own.
    assert clients[bob].secrets.kv.v2.read_secret_version(path, mount_point=MOUNT, raise_on_deleted_version=True)[
        "data"
    ]["data"] == {"value": f"{bob}-secret"}
    assert kv.list_secrets(f"users/{alice}/custom", mount_point=MOUNT)["data"]["keys"] == ["k"]


def test_an_admin_can_list_and_revoke_but_never_read_or_write_a_value(openbao, signing_keys, users):
    alice, _, _ = users
    admin = _login(openbao, issue_token(signing_keys[0], f"admin_{uuid.uuid4().hex[:6]}", admin=True), ADMIN_ROLE)
    kv = admin.secrets.kv.v2
    path = f"users/{alice}/custom/k"
    assert alice in [key.rstrip("/") for key in kv.list_secrets("users", mount_point=MOUNT)["data"]["keys"]]
    assert kv.read_secret_metadata(path, mount_point=MOUNT)["data"]["current_version"] == 1
    with pytest.raises(hvac_errors.Forbidden):
        kv.read_secret_version(path, mount_point=MOUNT, raise_on_deleted_version=True)
    with pytest.raises(hvac_errors.Forbidden):
        kv.read_secret_version(path, version=1, mount_point=MOUNT, raise_on_deleted_version=True)
    with pytest.raises(hvac_errors.Forbidden):
        kv.create_or_update_secret(path, {"value": "admin-wrote"}, cas=1, mount_point=MOUNT)
    with pytest.raises(hvac_errors.Forbidden):
        kv.create_or_update_secret(f"users/{alice}/custom/new", {"value": "x"}, cas=0, mount_point=MOUNT)
    kv.delete_latest_version_of_secret(path, mount_point=MOUNT)
    assert kv.read_secret_metadata(path, mount_point=MOUNT)["data"]["versions"]["1"]["deletion_time"]


def test_a_user_without_the_admin_claim_cannot_take_the_admin_role(openbao, signing_keys):
    with pytest.raises(hvac_errors.VaultError):
        _login(openbao, issue_token(signing_keys[0], "mallory"), ADMIN_ROLE)


def _token(signing_keys, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": "carol", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "nbf": now, "exp": now + 600}
    claims.update(overrides)
    return jwt.encode(claims, signing_keys[0].read_bytes(), algorithm="RS256")


@pytest.mark.parametrize(
    "overrides",
    [{"exp": int(time.time()) - 600}, {"iss": "https://evil.example"}, {"aud": "another-api"}],
    ids=["expired", "wrong-issuer", "wrong-audience"],
)
async def test_vault_refuses_tokens_the_service_would_refuse(openbao, signing_keys, overrides):
    with pytest.raises(hvac_errors.VaultError):
        _login(openbao, _token(signing_keys, **overrides))
    sessions = JwtVaultSessions(addr=openbao.addr, mount=MOUNT)
    try:
        # Even if the service's own check were bypassed, the per-user login fails cleanly.
        with pytest.raises(VaultRefused):
            await sessions.for_principal(Principal("carol", credential=SecretValue(_token(signing_keys, **overrides))))
    finally:
        await sessions.close()


@pytest.mark.parametrize("hostile", ["*", "+", "../x", "a/b"])
def test_vault_refuses_templated_paths_for_hostile_subjects(openbao, signing_keys, hostile):
    client = _login(openbao, _token(signing_keys, sub=hostile))
    with pytest.raises(hvac_errors.VaultError):
        client.secrets.kv.v2.read_secret_version("users/x/custom/k", mount_point=MOUNT, raise_on_deleted_version=True)


async def test_a_warm_user_reuses_their_vault_token(openbao, signing_keys):
    sessions = JwtVaultSessions(addr=openbao.addr, mount=MOUNT)
    user = f"dana_{uuid.uuid4().hex[:6]}"
    try:
        for _ in range(20):  # a new session token each time, as Clerk rotates them
            principal = Principal(user, credential=SecretValue(issue_token(signing_keys[0], user)))
            vault = await sessions.for_principal(principal)
        await vault.write(f"users/{user}/custom/k", {"value": SecretValue("v")}, cas=0)
        assert (sessions.stats.logins, sessions.stats.reuses) == (1, 19)
    finally:
        await sessions.close()


def test_bootstrap_is_idempotent_on_a_fresh_server(signing_keys):
    from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault
    from tests.support.openbao import start_dev_openbao

    server = start_dev_openbao()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        setup = JwtAuthSetup(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=signing_keys[1].read_text())
        first = bootstrap_vault(client, MOUNT, jwt=setup, user_auth="jwt")
        policies_before = {
            n: client.sys.read_policy(n)["data"]["rules"] for n in ("user-secrets-policy", "admin-policy")
        }
        second = bootstrap_vault(client, MOUNT, jwt=setup, user_auth="jwt")
        assert "mounted" in first[0] and "kept" in second[0]
        assert first[1:] == second[1:]
        assert {n: client.sys.read_policy(n)["data"]["rules"] for n in policies_before} == policies_before
        role = client.auth.approle.read_role("mirage-backend")["data"]
        assert (role["token_ttl"], role["token_max_ttl"], role["token_policies"]) == (3600, 86400, ["mirage-backend"])
        assert _login(server, issue_token(signing_keys[0], "erin")).lookup_token()["data"]["display_name"] == "jwt-erin"
    finally:
        server.stop()


def _capabilities(client: hvac.Client, *paths: str) -> dict[str, list[str]]:
    answer = client.adapter.post("/v1/sys/capabilities-self", json={"paths": list(paths)})
    return {path: sorted(answer["data"][path]) for path in paths}


def _approle_client(openbao) -> hvac.Client:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    role_id = root.auth.approle.read_role_id("mirage-backend")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("mirage-backend")["data"]["secret_id"]
    client = hvac.Client(url=openbao.addr)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    return client


def test_the_backend_approle_reaches_only_what_its_jobs_need(openbao, users):
    alice, _, _ = users
    backend = _approle_client(openbao)
    caps = _capabilities(
        backend,
        f"{MOUNT}/data/service/cache-key",
        f"{MOUNT}/data/users/{alice}/railway",
        f"{MOUNT}/data/users/{alice}/custom/k",
        f"{MOUNT}/metadata/users/{alice}/custom/k",
        "sys/policies/acl/admin-policy",
    )
    assert caps == {
        f"{MOUNT}/data/service/cache-key": ["create", "read", "update"],
        # Token migration writes, the cleanup pass deletes; neither ever reads a value.
        f"{MOUNT}/data/users/{alice}/railway": ["create", "delete", "update"],
        f"{MOUNT}/data/users/{alice}/custom/k": ["delete"],
        # The cleanup pass: the expiry is in the metadata; destroying is a metadata delete.
        f"{MOUNT}/metadata/users/{alice}/custom/k": ["delete", "read"],
        "sys/policies/acl/admin-policy": ["deny"],
    }
    with pytest.raises(hvac_errors.Forbidden):
        backend.secrets.kv.v2.read_secret_version(
            f"users/{alice}/custom/k", mount_point=MOUNT, raise_on_deleted_version=True
        )


def test_the_backup_policy_takes_snapshots_and_counts_metadata_but_reads_no_value(openbao, users):
    alice, _, _ = users
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    backup = hvac.Client(
        url=openbao.addr, token=root.auth.token.create(policies=["backup-policy"])["auth"]["client_token"]
    )
    caps = _capabilities(
        backup, "sys/storage/raft/snapshot", f"{MOUNT}/data/users/{alice}/custom/k", f"{MOUNT}/metadata/users"
    )
    assert caps == {
        "sys/storage/raft/snapshot": ["read"],
        f"{MOUNT}/data/users/{alice}/custom/k": ["deny"],
        f"{MOUNT}/metadata/users": ["list", "read"],  # the manifest's counts; metadata holds no value
    }


def test_an_admin_uses_their_own_subtree_like_any_user_and_still_reads_no_other_value(openbao, signing_keys, users):
    alice, _, _ = users
    name = f"admin_{uuid.uuid4().hex[:6]}"
    admin = _login(openbao, issue_token(signing_keys[0], name, admin=True), ADMIN_ROLE)
    kv = admin.secrets.kv.v2
    own = f"users/{name}/custom/mine"
    kv.create_or_update_secret(own, {"value": "admin-own"}, cas=0, mount_point=MOUNT)
    kv.update_metadata(own, custom_metadata={"tags": "[]"}, mount_point=MOUNT)
    assert kv.read_secret_version(own, mount_point=MOUNT, raise_on_deleted_version=True)["data"]["data"] == {
        "value": "admin-own"
    }
    assert kv.list_secrets(f"users/{name}/custom", mount_point=MOUNT)["data"]["keys"] == ["mine"]
    other = f"users/{alice}/custom/k"
    with pytest.raises(hvac_errors.Forbidden):
        kv.read_secret_version(other, mount_point=MOUNT, raise_on_deleted_version=True)
    with pytest.raises(hvac_errors.Forbidden):
        kv.create_or_update_secret(other, {"value": "admin-wrote"}, cas=1, mount_point=MOUNT)
