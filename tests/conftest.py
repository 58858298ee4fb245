"""Session-wide real servers: an in-memory OpenBao dev server and a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import pytest

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair
from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault
from adapters.vault.hvac_vault import HvacSecretVault
from tests.support.openbao import MOUNT, start_dev_openbao
from tests.support.postgres import migrated_test_database, postgres_admin_url, server_answers
from tests.support.providers import FakeGitHub, FakeRailway, FakeTokenRegistry, FakeTokenServer
from tests.support.registry import REGISTRY_USERS, LocalRegistry, RegistryUnavailable, start_docker_registry
from tests.support.served import serve


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory):
    """The key pair that signs the tests' bearer tokens: (private key file, public key file)."""
    return ensure_dev_keypair(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="session")
def openbao(signing_keys):
    """Bootstrapped like production: KV v2 mount, policies, JWT auth with the tests' key, AppRole."""
    server = start_dev_openbao()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        jwt = JwtAuthSetup(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=signing_keys[1].read_text())
        bootstrap_vault(client, MOUNT, jwt=jwt, user_auth="jwt")
        client.adapter.close()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hvac_vault(openbao):
    vault = HvacSecretVault(hvac.Client(url=openbao.addr, token=openbao.root_token), mount=MOUNT)
    yield vault
    vault._pool.shutdown(wait=False)


@pytest.fixture(scope="session")
def pg_admin_url():
    with postgres_admin_url() as url:
        if not server_answers(url):
            # A skip here would let a run "pass" without the database tests: fail instead.
            pytest.fail(f"no PostgreSQL server answers at {url}; `make test` starts one")
        yield url


@pytest.fixture(scope="session")
def pg_url(pg_admin_url):
    """A fresh, migrated database for this test session, dropped at the end."""
    with migrated_test_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def fresh_pg_url(pg_admin_url):
    """A fresh, migrated database of this test's own (for tests that break or fill it), dropped after."""
    with migrated_test_database(pg_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def served_instance(openbao, pg_url, signing_keys, tmp_path_factory):
    """One `mirage-secrets serve` with two workers on the session's OpenBao, PostgreSQL and Redis.

    Tests that need other settings start their own with `tests.support.served.serve`."""
    with serve(
        vault_addr=openbao.addr,
        vault_token=openbao.root_token,
        database_url=pg_url,
        signing_keys=signing_keys,
        log_dir=tmp_path_factory.mktemp("served"),
    ) as instance:
        yield instance


@pytest.fixture
def fake_railway() -> Iterator[FakeRailway]:
    with FakeRailway() as server:
        yield server


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def fake_token_registry() -> Iterator[FakeTokenRegistry]:
    """A Bearer-auth registry and its token server; user `alice` / password `wonderland`."""
    with FakeTokenServer(service=FakeTokenRegistry.SERVICE) as tokens:
        tokens.users["alice"] = "wonderland"
        with FakeTokenRegistry(tokens) as registry:
            yield registry


@pytest.fixture(scope="session")
def local_docker_registry() -> Iterator[LocalRegistry]:
    """One real registry per session with `REGISTRY_USERS`. Fails (never skips) if it can't start."""
    try:
        registry = start_docker_registry(REGISTRY_USERS)
    except RegistryUnavailable as exc:
        pytest.fail(str(exc))
    try:
        yield registry
    finally:
        registry.stop()
