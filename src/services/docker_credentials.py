"""Docker registry logins: tested with a `docker login`-style exchange before storage, exported as
a Railway registry pair or a `config.json` auths entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from domain.audit import AuditAction, AuditOutcome
from domain.errors import InvalidInput, SecretNotFound
from domain.ports import RegistryLoginTester
from domain.providers import (
    RegistryLoginResult,
    docker_config_auth_entry,
    normalize_registry,
    railway_registry_credentials,
)
from domain.secrets import SecretMetadata, SecretType, docker_key, is_valid_registry_segment, parse_time
from domain.values import Principal, SecretValue
from services.audit_trail import AuditNote, AuditTrail
from services.provider_common import MAX_TOKEN_BYTES, written
from services.secret_service import SecretService, utc_now


@dataclass(frozen=True, slots=True)
class DockerCredentials:
    registry: str
    username: str
    email: str | None
    password: SecretValue
    version: int
    last_validated: datetime | None = None
    last_used_at: datetime | None = None  # when the login was last read for use (export, test login)


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    registry: str
    last_used_at: datetime | None = None
    last_validated: datetime | None = None


# "Last used" is kept to the minute: a login read for use again within it writes no metadata.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def registry_key(registry: str) -> tuple[str, str]:
    """(normalised registry, API key) from what the user typed; `InvalidInput` for a non-host."""
    host = normalize_registry(registry)
    if not is_valid_registry_segment(host):
        raise InvalidInput("registry must be a host name, optionally with a port", field="registry")
    return host, docker_key(host)


class DockerCredentialService:
    """Registry credentials per user at `users/{id}/docker/{registry}`.

    Events name the secret `docker/{registry}` (the normalised host), or no key when the registry
    given is not a host name.
    """

    def __init__(
        self,
        *,
        secrets: SecretService,
        trail: AuditTrail,
        tester: RegistryLoginTester,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._secrets = secrets
        self._trail = trail
        self._tester = tester
        self._clock = clock

    def _locate(self, note: AuditNote, registry: str) -> tuple[str, str]:
        host, key = registry_key(registry)
        note.key, note.secret_type = key, SecretType.DOCKER_CREDENTIALS.value
        return host, key

    async def store(
        self, principal: Principal, *, registry: str, username: str, password: SecretValue, email: str | None
    ) -> tuple[str, int]:
        async with self._trail.record(principal, AuditAction.UPDATE) as note:
            host, key = self._locate(note, registry)
            if not username or len(username) > 256 or any(ord(c) < 32 for c in username) or ":" in username:
                raise InvalidInput("username must be 1-256 printable characters without ':'", field="username")
            if password.byte_length() == 0 or password.byte_length() > MAX_TOKEN_BYTES:
                raise InvalidInput(f"password must be 1-{MAX_TOKEN_BYTES} bytes", field="password")
            if email is not None and (len(email) > 256 or "@" not in email or any(ord(c) < 33 for c in email)):
                raise InvalidInput("email must be an e-mail address", field="email")
            data = {
                "registry": SecretValue(host),
                "username": SecretValue(username),
                "password": password,
                "email": SecretValue(email or ""),
            }

            def amend(metadata: SecretMetadata) -> SecretMetadata:
                # New credentials have not been tested yet.
                extra = {**metadata.extra, "registry": host}
                return replace(
                    metadata, secret_type=SecretType.DOCKER_CREDENTIALS.value, last_validated=None, extra=extra
                )

            stored, _ = await self._secrets.store_fields(principal, key, data, amend=amend)
            written(note, stored, SecretType.DOCKER_CREDENTIALS)
        return host, stored.version

    async def registries(self, principal: Principal) -> list[RegistryEntry]:
        """Each registry with when its login was last used and validated (one metadata read each:
        a user has a handful of registries)."""
        async with self._trail.record(principal, AuditAction.LIST) as note:
            note.secret_type = SecretType.DOCKER_CREDENTIALS.value
            records = await self._secrets.list(principal, secret_type=SecretType.DOCKER_CREDENTIALS.value)
            entries = []
            for record in records:
                if "/" not in record.key:
                    continue
                try:
                    metadata, _ = await self._secrets.get_metadata(principal, record.key)
                except SecretNotFound:
                    continue  # deleted since the index was read
                entries.append(
                    RegistryEntry(
                        registry=record.key.split("/", 1)[1],
                        last_used_at=parse_time(metadata.extra.get("last_used_at")),
                        last_validated=metadata.last_validated,
                    )
                )
        return entries

    async def _mark_used(self, principal: Principal, credentials: DockerCredentials) -> None:
        at = self._clock()
        if credentials.last_used_at is not None and at - credentials.last_used_at < _LAST_USED_RESOLUTION:
            return

        def used(metadata: SecretMetadata) -> SecretMetadata:
            return replace(metadata, extra={**metadata.extra, "last_used_at": at.isoformat()})

        await self._secrets.amend_metadata(principal, docker_key(credentials.registry), used)

    async def get(self, principal: Principal, registry: str) -> DockerCredentials:
        """The credentials, password included in the result (the HTTP read leaves it out)."""
        async with self._trail.record(principal, AuditAction.READ) as note:
            credentials = await self._get(principal, registry, note)
        return credentials

    async def _get(self, principal: Principal, registry: str, note: AuditNote) -> DockerCredentials:
        host, key = self._locate(note, registry)
        view = await self._secrets.get(principal, key)
        note.version = view.version
        fields = view.fields
        email = fields.get("email")
        return DockerCredentials(
            registry=host,
            username=fields["username"].reveal() if "username" in fields else "",
            email=(email.reveal() or None) if email is not None else None,
            password=view.value,
            version=view.version,
            last_validated=view.metadata.last_validated,
            last_used_at=parse_time(view.metadata.extra.get("last_used_at")),
        )

    async def delete(self, principal: Principal, registry: str) -> None:
        async with self._trail.record(principal, AuditAction.DELETE) as note:
            _, key = self._locate(note, registry)
            await self._secrets.delete(principal, key)

    async def test(self, principal: Principal, registry: str) -> RegistryLoginResult:
        """Log in with the stored credentials; a refused login is recorded with outcome `invalid`."""
        async with self._trail.record(principal, AuditAction.TEST_LOGIN) as note:
            credentials = await self._get(principal, registry, note)
            result = await self._tester.test(credentials.registry, credentials.username, credentials.password)
            at = self._clock()

            def tested(metadata: SecretMetadata) -> SecretMetadata:
                # Used either way; validated only if the registry said yes.
                extra = {**metadata.extra, "last_used_at": at.isoformat()}
                return replace(metadata, extra=extra, last_validated=at if result.valid else metadata.last_validated)

            await self._secrets.amend_metadata(principal, docker_key(credentials.registry), tested)
            if not result.valid:
                note.outcome = AuditOutcome.INVALID
                note.reason = "the registry refused the login"
        return result

    async def export(self, principal: Principal, registry: str, fmt: str) -> Mapping[str, Any]:
        """The credentials as a consumer needs them: Railway's pair or a Docker config.json entry.

        Only ever the caller's own (the path comes from the principal); recorded as `export`."""
        async with self._trail.record(principal, AuditAction.EXPORT) as note:
            if fmt not in ("railway", "docker_config"):
                raise InvalidInput("format is 'railway' or 'docker_config'", field="format")
            note.reason = f"format {fmt}"
            credentials = await self._get(principal, registry, note)
            await self._mark_used(principal, credentials)
            if fmt == "railway":
                return railway_registry_credentials(credentials.username, credentials.password)
            return docker_config_auth_entry(credentials.registry, credentials.username, credentials.password)
