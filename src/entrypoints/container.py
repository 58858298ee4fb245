"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.db.engine import Database, create_database
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
from adapters.identity.jwt_verifier import JwtVerifier
from adapters.vault.client import build_client
from adapters.vault.hvac_vault import HvacSecretVault
from domain.ports import IdentityVerifier
from entrypoints.settings import Settings
from services.secret_service import SecretService


@dataclass
class Container:
    settings: Settings
    vault: HvacSecretVault
    database: Database
    identity: IdentityVerifier
    secrets: SecretService

    async def close(self) -> None:
        await self.vault.close()
        await self.database.dispose()


def build_container(settings: Settings) -> Container:
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
    auth = settings.auth
    identity = JwtVerifier(
        issuer=auth.issuer,
        audience=auth.audience,
        public_key_file=Path(auth.public_key_file) if auth.public_key_file else None,
        jwks_url=auth.jwks_url,
        roles_claim=auth.roles_claim,
    )
    secrets = SecretService(vault=vault, index=SqlSecretIndex(database), users=SqlUserDirectory(database))
    return Container(settings=settings, vault=vault, database=database, identity=identity, secrets=secrets)
