"""Every provider service wired on in-memory fakes, with the fakes kept observable (`world.vault`,
`world.audit_log`, `world.accounts`, ...)."""

from __future__ import annotations

from adapters.cache.memory import InProcessSecretCache
from domain.values import Principal
from services.audit_trail import AuditTrail
from services.docker_credentials import DockerCredentialService
from services.environment_secrets import EnvironmentSecretService
from services.github_tokens import GitHubTokenService
from services.migration import MigrationService
from services.railway_client import EnvironmentSyncService, RailwayClientService
from services.railway_tokens import RailwayPolicy, RailwayTokenService
from services.secret_service import SecretService
from tests.fakes.audit import InMemoryAuditLog
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.providers import (
    FakeGitHubValidator,
    FakeRailwayValidator,
    FakeRegistryTester,
    InMemoryEnvironmentRegistry,
    InMemoryUserAccounts,
)
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

ALICE = Principal(user_id="alice")


class World:
    def __init__(self, policy: RailwayPolicy | None = None) -> None:
        policy = policy or RailwayPolicy()
        self.vault = InMemorySecretVault()
        self.audit_log = InMemoryAuditLog()
        trail = AuditTrail(self.audit_log)
        vaults = OneVaultForEveryone(self.vault)
        users = InMemoryUserDirectory()
        self.index = InMemorySecretIndex(users)
        self.secrets = SecretService(
            vaults=vaults, index=self.index, users=users, cache=InProcessSecretCache(retention_seconds=60)
        )
        self.railway_api = FakeRailwayValidator()
        self.github_api = FakeGitHubValidator()
        self.registry = FakeRegistryTester()
        self.accounts = InMemoryUserAccounts()
        self.environments = InMemoryEnvironmentRegistry()
        self.railway = RailwayTokenService(
            secrets=self.secrets,
            trail=trail,
            validator=self.railway_api,
            accounts=self.accounts,
            environments=self.environments,
            policy=policy,
        )
        self.github = GitHubTokenService(
            secrets=self.secrets, trail=trail, validator=self.github_api, accounts=self.accounts
        )
        self.docker = DockerCredentialService(secrets=self.secrets, trail=trail, tester=self.registry)
        self.env = EnvironmentSecretService(vaults=vaults, environments=self.environments, users=users, trail=trail)
        self.clients = RailwayClientService(
            secrets=self.secrets,
            trail=trail,
            clients=self.railway_api,
            validator=self.railway_api,
            accounts=self.accounts,
            policy=policy,
        )
        self.sync = EnvironmentSyncService(
            environment_secrets=self.env, environments=self.environments, railway=self.clients, trail=trail
        )
        self.migration = MigrationService(
            secrets=self.secrets,
            trail=trail,
            railway_tokens=self.railway,
            validator=self.railway_api,
            accounts=self.accounts,
        )
