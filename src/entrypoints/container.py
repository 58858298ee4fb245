"""The composition root: the only place that picks concrete adapters.

Production and tests are wired by the same `build_container`; a test passes in only what it
replaces (`vault=`, `cache=`, `audit_log=`, `identity=`, `index=`, `users=`, `providers=`), as
fakes, and the root builds the rest. The container closes only what it built itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
import httpx

from adapters.cache.memory import InProcessSecretCache
from adapters.cache.redis_cache import RedisSecretCache
from adapters.db.access_batch import BatchedAccessIndex
from adapters.db.accounts import SqlEnvironmentRegistry, SqlUserAccounts
from adapters.db.audit_log import SqlAuditLog
from adapters.db.engine import Database, create_database
from adapters.db.health import database_health
from adapters.db.locks import DatabaseJobLock
from adapters.db.repositories import SqlSecretIndex, SqlSecretLifecycleIndex, SqlUserDirectory
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.providers import DockerRegistryLoginTester, GitHubTokenValidatorHttp, RailwayGraphQLTokenValidator
from adapters.ratelimit.windows import InMemoryWindows, RedisWindows
from adapters.telemetry.metrics import set_secrets_expiring, track_circuit_breaker
from adapters.telemetry.tracing import (
    TimedAuditLog,
    TracedSecretCache,
    TracedSecretIndex,
    TracedSecretVault,
    TracedVaultSessions,
)
from adapters.vault.address_pool import VaultAddressPool, shared_pool
from adapters.vault.audit_witness import VaultChainWitness
from adapters.vault.breaker import CircuitBreaker
from adapters.vault.cache_key import load_or_create_cache_key
from adapters.vault.client import build_client
from adapters.vault.kv_http import KvHttpSecretVault, new_http_session
from adapters.vault.resilient import ResilientSecretVault
from adapters.vault.sessions import JwtVaultSessions, SharedVaultSessions
from adapters.vault.token_lifecycle import TokenKeepingVault, VaultTokenKeeper
from domain.errors import VaultRefused, VaultUnavailable
from domain.health import BreakerHealth, CacheHealth
from domain.ports import (
    AuditLog,
    EnvironmentRegistry,
    GitHubTokenValidator,
    IdentityVerifier,
    RegistryLoginTester,
    SecretCache,
    SecretIndex,
    SecretVault,
    UserAccounts,
    UserDirectory,
    VaultSessions,
)
from domain.rate_limits import RateLimits, WindowCounter
from domain.values import SecretValue
from entrypoints.settings import Settings
from services.audit_service import AuditService
from services.audit_trail import AuditTrail
from services.audited_secret_service import AuditedSecretService
from services.docker_credentials import DockerCredentialService
from services.environment_secrets import EnvironmentSecretService
from services.github_tokens import GitHubTokenService
from services.health_service import HealthService
from services.migration import MigrationService
from services.railway_client import EnvironmentSyncService, RailwayClientService
from services.railway_tokens import RailwayPolicy, RailwayTokenService
from services.secret_lifecycle import ExpiringSecretsService, SecretCleanupService
from services.secret_service import CachePolicy, SecretService

log = logging.getLogger("mirage.container")


@dataclass
class Container:
    settings: Settings
    vault: SecretVault  # the service's own identity (traced, resilient): health, cache key, jobs
    vaults: VaultSessions  # whose identity runs each user's operations
    breaker: CircuitBreaker
    database: Database
    audit_log: AuditLog
    trail: AuditTrail
    audit: AuditService
    health: HealthService
    cache: SecretCache
    identity: IdentityVerifier
    secrets: SecretService
    http: httpx.AsyncClient  # one pool for every provider call
    providers: ProviderServices
    cleanup: SecretCleanupService
    expiring: ExpiringSecretsService
    rate_limits: RateLimits
    vault_http: aiohttp.ClientSession  # one pool for every Vault data call, every identity
    access: BatchedAccessIndex  # last-access writes, batched off the read path
    # What the root built and must release, in order (overrides are the caller's to close).
    closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in self.closers:
            await close()


@dataclass(frozen=True)
class ProviderAdapters:
    """What the provider services talk to; None: the production adapter (HTTP, SQL)."""

    railway: RailwayGraphQLTokenValidator | None = None  # validator and per-token client builder
    github: GitHubTokenValidator | None = None
    registry: RegistryLoginTester | None = None
    accounts: UserAccounts | None = None
    environments: EnvironmentRegistry | None = None


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
    settings: Settings,
    *,
    secrets: SecretService,
    trail: AuditTrail,
    vaults: VaultSessions,
    database: Database,
    http: httpx.AsyncClient,
    adapters: ProviderAdapters | None = None,
) -> ProviderServices:
    """The provider services record their own, user-level audit events on `trail`; underneath they
    need an unaudited `SecretService` (given an audited one, they use its unaudited twin), so each
    user operation leaves exactly one event."""
    if isinstance(secrets, AuditedSecretService):
        secrets = secrets.unaudited()
    providers = settings.providers
    given = adapters or ProviderAdapters()
    railway_validator = given.railway or RailwayGraphQLTokenValidator(providers.railway_api_url, http)
    accounts = given.accounts or SqlUserAccounts(database)
    environments = given.environments or SqlEnvironmentRegistry(database)
    policy = RailwayPolicy(
        vault_enabled=providers.secrets_vault_enabled,
        max_age_days=providers.railway_token_max_age_days,
        legacy_token=SecretValue(providers.railway_api_token) if providers.railway_api_token else None,
        allow_env_fallback=providers.railway_env_fallback,
    )
    railway = RailwayTokenService(
        secrets=secrets,
        trail=trail,
        validator=railway_validator,
        accounts=accounts,
        environments=environments,
        policy=policy,
    )
    environment_secrets = EnvironmentSecretService(
        vaults=vaults, environments=environments, users=SqlUserDirectory(database), trail=trail
    )
    railway_clients = RailwayClientService(
        secrets=secrets,
        trail=trail,
        clients=railway_validator,
        validator=railway_validator,
        accounts=accounts,
        policy=policy,
    )
    return ProviderServices(
        railway=railway,
        github=GitHubTokenService(
            secrets=secrets,
            trail=trail,
            validator=given.github or GitHubTokenValidatorHttp(providers.github_api_url, http),
            accounts=accounts,
        ),
        docker=DockerCredentialService(
            secrets=secrets,
            trail=trail,
            tester=given.registry or DockerRegistryLoginTester(http, frozenset(providers.docker_insecure_registries)),
        ),
        environments=environment_secrets,
        railway_clients=railway_clients,
        sync=EnvironmentSyncService(
            environment_secrets=environment_secrets, environments=environments, railway=railway_clients, trail=trail
        ),
        migration=MigrationService(
            secrets=secrets, trail=trail, railway_tokens=railway, validator=railway_validator, accounts=accounts
        ),
    )


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.providers.timeout_seconds
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False)


async def build_container(
    settings: Settings,
    *,
    vault: SecretVault | None = None,
    vaults: VaultSessions | None = None,
    cache: SecretCache | None = None,
    audit_log: AuditLog | None = None,
    identity: IdentityVerifier | None = None,
    index: SecretIndex | None = None,
    users: UserDirectory | None = None,
    providers: ProviderAdapters | None = None,
) -> Container:
    """Everything the entrypoints need, from `settings`; each keyword replaces one adapter.

    `vault` is the service's own Vault (it still gets the retries, the breaker and tracing);
    `vaults` decides whose Vault each user's operations run against (default: from settings).
    """
    owned: dict[str, Callable[[], Awaitable[object]]] = {}  # what this root built, to close
    breaker = CircuitBreaker(
        failure_threshold=settings.vault.breaker_failures, reset_timeout=settings.vault.breaker_cooldown_seconds
    )
    track_circuit_breaker(breaker)
    vault_http = new_http_session(verify=not settings.vault.skip_verify)
    # Spans and metrics wrap the resilient layer, so one span covers one logical call, retries included.
    if vault is None:
        service_vault = await _build_service_vault(settings, breaker, vault_http)
        owned["vault"] = service_vault.close
    else:
        service_vault = _resilient(vault, settings, breaker)
    traced_vault = TracedSecretVault(service_vault)
    database = create_database(settings.database.url)  # connects on first use only
    if audit_log is None:
        witness_interval = settings.database.audit_witness_interval
        # The chain heads go to Vault under the service's own path (its own identity, not a user's).
        sql_audit_log = SqlAuditLog(  # its writer task starts on the first append, in the serving loop
            database,
            witness=VaultChainWitness(traced_vault, settings.database.audit_witness_path)
            if witness_interval > 0
            else None,
            witness_interval=witness_interval or 10.0,
        )
        owned["audit_log"] = sql_audit_log.close  # commits what is still queued, witnesses the heads (in Vault)
        audit_log = sql_audit_log
    timed_audit_log = TimedAuditLog(audit_log)
    trail = AuditTrail(timed_audit_log)
    if cache is None:
        cache = await _build_cache(settings, traced_vault)
        if isinstance(cache, RedisSecretCache):
            owned["cache"] = cache.close
    identity = identity or _build_identity(settings)
    if vaults is None:
        vaults = _build_vault_sessions(settings, traced_vault, breaker, vault_http)
        if isinstance(vaults, JwtVaultSessions):
            owned["vaults"] = vaults.close
    # A per-user session lookup (a JWT login, sometimes) is worth a span; the shared identity's
    # is a constant (already a traced vault), and a span for it cost ~7% of an uncached read.
    traced_vaults = TracedVaultSessions(vaults) if isinstance(vaults, JwtVaultSessions) else vaults
    traced_index = TracedSecretIndex(index or SqlSecretIndex(database))
    access = BatchedAccessIndex(traced_index)  # last-access writes batched off the read path
    secrets = AuditedSecretService(
        trail=trail,
        vaults=traced_vaults,
        index=access,
        users=users or SqlUserDirectory(database),
        cache=TracedSecretCache(cache),
        cache_policy=CachePolicy(
            ttl_seconds=settings.cache.ttl_seconds, max_stale_seconds=settings.cache.max_stale_seconds
        ),
    )
    http = build_http_client(settings)
    rate_limits = build_rate_limits(settings)
    if isinstance(rate_limits.counter, RedisWindows):
        owned["rate_limits"] = rate_limits.counter.close
    # Pending last-access times first (they go to the database); the audit log before the vault and
    # its HTTP session (it witnesses its heads there); the database last (everything writes to it).
    order = ("rate_limits", "cache", "vaults", "audit_log", "vault")
    closers = [
        http.aclose,
        access.close,
        *(owned[name] for name in order if name in owned),
        vault_http.close,
        database.dispose,
    ]
    built_cache = cache
    return Container(
        settings=settings,
        vault=traced_vault,
        vaults=vaults,
        breaker=breaker,
        database=database,
        audit_log=audit_log,
        trail=trail,
        audit=AuditService(log=timed_audit_log, trail=trail),
        health=HealthService(
            vault=traced_vault,
            database=lambda: database_health(database),
            cache=lambda: _cache_health(settings, built_cache),
            breaker=lambda: _breaker_health(breaker),
        ),
        cache=cache,
        identity=identity,
        secrets=secrets,
        http=http,
        providers=build_provider_services(
            settings,
            secrets=secrets.unaudited(),
            trail=trail,
            vaults=traced_vaults,
            database=database,
            http=http,
            adapters=providers,
        ),
        vault_http=vault_http,
        access=access,
        rate_limits=rate_limits,
        cleanup=build_cleanup_service(settings, vault=traced_vault, database=database, cache=cache, trail=trail),
        expiring=ExpiringSecretsService(
            index=traced_index, trail=trail, railway_max_age_days=settings.providers.railway_token_max_age_days
        ),
        closers=closers,
    )


def _build_identity(settings: Settings) -> JwtVerifier:
    auth = settings.auth
    return JwtVerifier(
        issuer=auth.issuer,
        audience=auth.audience,
        public_key_file=Path(auth.public_key_file) if auth.public_key_file else None,
        jwks_url=auth.jwks_url,
        roles_claim=auth.roles_claim,
    )


def build_cleanup_service(
    settings: Settings,
    *,
    vault: SecretVault,
    database: Database,
    cache: SecretCache,
    trail: AuditTrail,
    recovery: timedelta | None = None,
) -> SecretCleanupService:
    """The lifecycle's cleanup pass on the service's own Vault identity (it acts on every user)."""
    return SecretCleanupService(
        vault=vault,
        index=SqlSecretLifecycleIndex(database),
        cache=cache,
        trail=trail,
        lock=DatabaseJobLock(database),
        recovery=recovery if recovery is not None else timedelta(days=settings.lifecycle.recovery_days),
        report_expiring=set_secrets_expiring,
    )


def build_rate_limits(settings: Settings) -> RateLimits:
    """Shared through Redis across workers and instances; per process without REDIS_URL."""
    limits = settings.rate_limits
    counter: WindowCounter = (
        RedisWindows(settings.redis.url, key_prefix=limits.key_prefix) if settings.redis.url else InMemoryWindows()
    )
    return RateLimits(counter, provider_calls=limits.provider_calls, failed_auth=limits.failed_auth)


async def _build_service_vault(
    settings: Settings, breaker: CircuitBreaker, http: aiohttp.ClientSession
) -> ResilientSecretVault:
    """The service's own Vault identity, behind retries and the breaker; AppRole tokens kept alive.

    Data calls go through the aiohttp adapter; the hvac client holds the token (the AppRole keeper
    renews it in place, and the adapter reads it before every call) and does the administration.
    """
    vault_settings = settings.vault

    def client(token: str | None):
        return build_client(
            addr=vault_settings.addr,
            token=token,
            namespace=vault_settings.namespace,
            verify=not vault_settings.skip_verify,
            timeout=vault_settings.timeout_seconds,
            addresses=vault_settings.all_addresses,
        )

    service_client = client(vault_settings.token)
    inner: SecretVault = KvHttpSecretVault(
        addr=vault_settings.addr,
        mount=vault_settings.mount,
        token=lambda: service_client.token,
        session=http,
        namespace=vault_settings.namespace,
        timeout=vault_settings.timeout_seconds,
        pool=_address_pool(settings),
    )
    if vault_settings.role_id:
        keeper = VaultTokenKeeper(
            service_client,
            role_id=vault_settings.role_id,
            secret_id=vault_settings.secret_id,
            wrapped_secret_id_token=vault_settings.wrapped_secret_id,
            login_client_factory=lambda: client(None),
            mount_point=vault_settings.approle_mount,
        )
        await keeper.start(require_login=False)  # keeps trying in the background if Vault is down
        inner = TokenKeepingVault(inner, keeper)
    return _resilient(inner, settings, breaker)


def _address_pool(settings: Settings) -> VaultAddressPool | None:
    """With several VAULT_ADDR nodes, the process-wide pool that follows the active one (shared
    with the hvac clients); None for a single address."""
    addresses = settings.vault.all_addresses
    return shared_pool(addresses) if len(addresses) > 1 else None


def _resilient(inner: SecretVault, settings: Settings, breaker: CircuitBreaker) -> ResilientSecretVault:
    # One budget per call, retries included: a frozen Vault costs a request VAULT_TIMEOUT_SECONDS once.
    return ResilientSecretVault(
        inner, breaker=breaker, attempts=settings.vault.retry_attempts, budget=settings.vault.timeout_seconds
    )


def _build_vault_sessions(
    settings: Settings, service_vault: SecretVault, breaker: CircuitBreaker, http: aiohttp.ClientSession
) -> VaultSessions:
    vault_settings = settings.vault
    if vault_settings.user_auth == "token":
        return SharedVaultSessions(service_vault)
    return JwtVaultSessions(
        wrap=lambda user_vault: _resilient(user_vault, settings, breaker),  # one breaker per Vault
        addr=vault_settings.addr,
        mount=vault_settings.mount,
        auth_path=vault_settings.jwt_auth_path,
        namespace=vault_settings.namespace,
        verify=not vault_settings.skip_verify,
        timeout=vault_settings.timeout_seconds,
        http=http,
        pool=_address_pool(settings),  # follows the cluster's active node too
    )


def _cache_health(settings: Settings, cache: SecretCache) -> CacheHealth:
    enabled = settings.cache.ttl_seconds > 0
    if isinstance(cache, RedisSecretCache):
        return CacheHealth(kind="redis", enabled=enabled, invalidation_listener=cache.local_layer_active)
    return CacheHealth(kind="in-process", enabled=enabled)


def _breaker_health(breaker: CircuitBreaker) -> BreakerHealth:
    stats = breaker.stats()
    return BreakerHealth(
        state=stats.state,
        consecutive_failures=stats.consecutive_failures,
        retry_after=math.ceil(stats.retry_after) or None,
    )


async def _build_cache(settings: Settings, vault: SecretVault) -> SecretCache:
    retention = max(settings.cache.max_stale_seconds, 1)  # the cache needs a positive retention
    if settings.redis.url is None or settings.cache.ttl_seconds == 0:
        return InProcessSecretCache(retention_seconds=retention)
    try:
        # The data key comes from Vault so that every instance shares it and Redis never sees it.
        data_key = await load_or_create_cache_key(vault)
    except (VaultUnavailable, VaultRefused) as exc:
        # Serving beats caching: start with a private cache and say so.
        log.warning(
            "shared cache disabled, using an in-process cache: no cache key from Vault (%s)", type(exc).__name__
        )
        return InProcessSecretCache(retention_seconds=retention)
    cache = RedisSecretCache(settings.redis.url, data_key, retention_seconds=retention)
    await cache.start()
    return cache
