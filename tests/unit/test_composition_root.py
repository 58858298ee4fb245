"""The composition root wires fakes the way it wires production: a test passes in only what it
replaces, and the container built around them works end to end (no server, no network)."""

from __future__ import annotations

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.audit import AuditAction
from domain.errors import NotAuthenticated
from domain.values import Principal, SecretValue
from entrypoints.container import ProviderAdapters, build_container
from entrypoints.settings import load_settings
from tests.fakes.audit import InMemoryAuditLog
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.providers import (
    FakeGitHubValidator,
    FakeRailwayValidator,
    FakeRegistryTester,
    InMemoryEnvironmentRegistry,
    InMemoryUserAccounts,
)
from tests.fakes.vault import InMemorySecretVault

pytestmark = pytest.mark.unit

ALICE = Principal(user_id="alice")
ENV = {
    "VAULT_ADDR": "http://vault.invalid:8200",
    "VAULT_TOKEN": "unused-by-the-fakes",
    "DATABASE_URL": "sqlite+aiosqlite:///:memory:",
    "AUTH_ISSUER": "https://issuer.invalid",
    "AUTH_AUDIENCE": "mirage-secrets",
    "AUTH_JWKS_URL": "https://issuer.invalid/jwks.json",
}


class FixedIdentity:
    def verify(self, token: str) -> Principal:
        if token != "alice-token":
            raise NotAuthenticated("unknown token")
        return ALICE


async def test_unit_tests_wire_fakes_through_the_production_root():
    vault, audit_log, railway = InMemorySecretVault(), InMemoryAuditLog(), FakeRailwayValidator()
    users = InMemoryUserDirectory()
    container = await build_container(
        load_settings(ENV),
        vault=vault,
        cache=InProcessSecretCache(retention_seconds=60),
        audit_log=audit_log,
        identity=FixedIdentity(),
        index=InMemorySecretIndex(users),
        users=users,
        providers=ProviderAdapters(
            railway=railway,
            github=FakeGitHubValidator(),
            registry=FakeRegistryTester(),
            accounts=InMemoryUserAccounts(),
            environments=InMemoryEnvironmentRegistry(),
        ),
    )
    try:
        principal = container.identity.verify("alice-token")
        await container.secrets.store(principal, key="db", value=SecretValue("s3cret"))
        assert (await container.secrets.get(principal, "db")).value.reveal() == "s3cret"
        railway.kinds["rw-token"] = "account"
        stored = await container.providers.railway.store(principal, SecretValue("rw-token"))
        assert stored.version == 1

        # The fakes are the ones the root used: the values are in the fake vault, and the
        # audited service and the provider service each left their events on the fake trail.
        assert {"users/alice/custom/db", "users/alice/railway"} <= set(vault.paths)
        actions = [e.action for e in audit_log.events]
        assert actions == [AuditAction.CREATE, AuditAction.READ, AuditAction.CREATE]
        assert (await container.vault.health()).reachable  # the service vault is the fake, behind the breaker
    finally:
        await container.close()
