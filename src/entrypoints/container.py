"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from adapters.cache.memory import InProcessSecretCache
from adapters.cache.redis_cache import RedisSecretCache
from adapters.db.engine import Database, create_database
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.vault.cache_key import load_or_create_cache_key
from adapters.vault.client import build_client
from adapters.vault.hvac_vault import HvacSecretVault
from adapters.vault.sessions import JwtVaultSessions, SharedVaultSessions
from domain.errors import VaultRefused, VaultUnavailable
from domain.ports import IdentityVerifier, SecretCache, VaultSessions
from entrypoints.settings import Settings
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

    async def close(self) -> None:
        if isinstance(self.cache, RedisSecretCache):
            await self.cache.close()
        if isinstance(self.vaults, JwtVaultSessions):
            await self.vaults.close()
        await self.vault.close()
        await self.database.dispose()


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
    return Container(
        settings=settings,
        vault=vault,
        vaults=vaults,
        database=database,
        cache=cache,
        identity=identity,
        secrets=secrets,
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
