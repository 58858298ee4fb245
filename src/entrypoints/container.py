"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

from adapters.cache.memory import InProcessSecretCache
from adapters.cache.redis_cache import RedisSecretCache
from adapters.db.accounts import SqlEnvironmentRegistry, SqlUserAccounts
from adapters.db.engine import Database, create_database
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.providers import DockerRegistryLoginTester, GitHubTokenValidatorHttp, RailwayGraphQLTokenValidator
from adapters.vault.cache_key import load_or_create_cache_key
from adapters.vault.client import build_client
from adapters.vault.hvac_vault import HvacSecretVault
from adapters.vault.sessions import JwtVaultSessions, SharedVaultSessions
from domain.errors import VaultRefused, VaultUnavailable
from domain.ports import IdentityVerifier, SecretCache, VaultSessions
from entrypoints.settings import Settings
from domain.values import SecretValue
from services.environment_secrets import EnvironmentSecretService
from services.migration import MigrationService
from services.provider_tokens import DockerCredentialService, GitHubTokenService, RailwayPolicy, RailwayTokenService
from services.railway_client import EnvironmentSyncService, RailwayClientService
from services.secret_service import CachePolicy, SecretService

log = logging.getLogger("mirage.container")


@dataclass
class Container:
    settings: Settings
    vault: HvacSecretVault  # the service's own identity: health, cache key, background jobs
    vaults: VaultSessions  # whose identity runs each user's operations
    database: Database
    cache: SecretCache
    identity: IdentityVerifier
    secrets: SecretService
    http: httpx.AsyncClient  # one pool for every provider call
    providers: ProviderServices

    async def close(self) -> None:
        await self.http.aclose()
        if isinstance(self.cache, RedisSecretCache):
            await self.cache.close()
        if isinstance(self.vaults, JwtVaultSessions):
            await self.vaults.close()
        await self.vault.close()
        await self.database.dispose()


@dataclass
class ProviderServices:
    railway: RailwayTokenService
    github: GitHubTokenService
    docker: DockerCredentialService
    environments: EnvironmentSecretService
    railway_clients: RailwayClientService
    sync: EnvironmentSyncService
    migration: MigrationService


def build_provider_services(
    settings: Settings, *, secrets: SecretService, vaults: VaultSessions, database: Database, http: httpx.AsyncClient
) -> ProviderServices:
    providers = settings.providers
    railway_validator = RailwayGraphQLTokenValidator(providers.railway_api_url, http)
    accounts = SqlUserAccounts(database)
    environments = SqlEnvironmentRegistry(database)
    policy = RailwayPolicy(
        vault_enabled=providers.secrets_vault_enabled,
        max_age_days=providers.railway_token_max_age_days,
        legacy_token=SecretValue(providers.railway_api_token) if providers.railway_api_token else None,
        allow_env_fallback=providers.railway_env_fallback,
    )
    railway = RailwayTokenService(
        secrets=secrets, validator=railway_validator, accounts=accounts, environments=environments, policy=policy
    )
    environment_secrets = EnvironmentSecretService(
        vaults=vaults, environments=environments, users=SqlUserDirectory(database)
    )
    railway_clients = RailwayClientService(
        secrets=secrets, clients=railway_validator, validator=railway_validator, accounts=accounts, policy=policy
    )
    return ProviderServices(
        railway=railway,
        github=GitHubTokenService(
            secrets=secrets, validator=GitHubTokenValidatorHttp(providers.github_api_url, http), accounts=accounts
        ),
        docker=DockerCredentialService(
            secrets=secrets,
            tester=DockerRegistryLoginTester(http, frozenset(providers.docker_insecure_registries)),
        ),
        environments=environment_secrets,
        railway_clients=railway_clients,
        sync=EnvironmentSyncService(
            environment_secrets=environment_secrets, environments=environments, railway=railway_clients
        ),
        migration=MigrationService(
            secrets=secrets, railway_tokens=railway, validator=railway_validator, accounts=accounts
        ),
    )


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.providers.timeout_seconds
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False)


async def build_container(settings: Settings) -> Container:
    vault_settings = settings.vault
    client = build_client(
        addr=vault_settings.addr,
        token=vault_settings.token,
        role_id=vault_settings.role_id,
        secret_id=vault_settings.secret_id,
        namespace=vault_settings.namespace,
        verify=not vault_settings.skip_verify,
        timeout=vault_settings.timeout_seconds,
    )
    vault = HvacSecretVault(client, mount=vault_settings.mount)
    database = create_database(settings.database.url)
    cache = await _build_cache(settings, vault)
    auth = settings.auth
    identity = JwtVerifier(
        issuer=auth.issuer,
        audience=auth.audience,
        public_key_file=Path(auth.public_key_file) if auth.public_key_file else None,
        jwks_url=auth.jwks_url,
        roles_claim=auth.roles_claim,
    )
    vaults = _build_vault_sessions(settings, vault)
    secrets = SecretService(
        vaults=vaults,
        index=SqlSecretIndex(database),
        users=SqlUserDirectory(database),
        cache=cache,
        cache_policy=CachePolicy(
            ttl_seconds=settings.cache.ttl_seconds, max_stale_seconds=settings.cache.max_stale_seconds
        ),
    )
    http = build_http_client(settings)
    return Container(
        settings=settings,
        vault=vault,
        vaults=vaults,
        database=database,
        cache=cache,
        identity=identity,
        secrets=secrets,
        http=http,
        providers=build_provider_services(settings, secrets=secrets, vaults=vaults, database=database, http=http),
    )


def _build_vault_sessions(settings: Settings, service_vault: HvacSecretVault) -> VaultSessions:
    vault_settings = settings.vault
    if vault_settings.user_auth == "token":
        return SharedVaultSessions(service_vault)
    return JwtVaultSessions(
        addr=vault_settings.addr,
        mount=vault_settings.mount,
        auth_path=vault_settings.jwt_auth_path,
        namespace=vault_settings.namespace,
        verify=not vault_settings.skip_verify,
        timeout=vault_settings.timeout_seconds,
    )


async def _build_cache(settings: Settings, vault: HvacSecretVault) -> SecretCache:
    retention = max(settings.cache.max_stale_seconds, 1)  # the cache needs a positive retention
    if settings.redis.url is None or settings.cache.ttl_seconds == 0:
        return InProcessSecretCache(retention_seconds=retention)
    try:
        # The data key comes from Vault so that every instance shares it and Redis never sees it.
        data_key = await load_or_create_cache_key(vault)
    except (VaultUnavailable, VaultRefused) as exc:
        # Serving beats caching: start with a private cache and say so.
        log.warning("shared cache disabled, using an in-process cache: no cache key from Vault (%s)", type(exc).__name__)
        return InProcessSecretCache(retention_seconds=retention)
    cache = RedisSecretCache(settings.redis.url, data_key, retention_seconds=retention)
    await cache.start()
    return cache
