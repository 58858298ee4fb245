"""Provider tokens: Railway and GitHub tokens validated before storage, and Docker registry logins.

Every write validates against the provider first; a rejected, rate-limited or unreachable
provider raises before anything is written. Storage goes through `SecretService`, so provider
secrets share the generic versions, rollback, cache invalidation and metadata index.

Auditing: each public operation records exactly one user-level event on the `AuditTrail` (store →
create/update, rotate, validate, test_login, export, delete, status → metadata_read, ...). The
`SecretService` underneath must be an UNAUDITED one (`AuditedSecretService.unaudited()`), or every
operation would be on record twice. A provider that answers "no" to a validation or a login test
is recorded with outcome `invalid`; no event ever carries a token, a password or a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from domain.audit import AuditAction, AuditOutcome
from domain.credentials import (
    TOKEN_SOURCE_VAULT,
    EnvironmentRegistry,
    UserAccounts,
    VaultDisabled,
)
from domain.errors import InvalidInput, SecretNotFound, VersionConflict
from domain.providers import (
    RAILWAY,
    GitHubTokenValidator,
    ProviderRejected,
    RailwayTokenInfo,
    RailwayTokenKind,
    RailwayTokenValidator,
    RegistryLoginResult,
    RegistryLoginTester,
    docker_config_auth_entry,
    normalize_registry,
    railway_registry_credentials,
)
from domain.secrets import SecretMetadata, SecretType, docker_key, is_valid_registry_segment, parse_time
from domain.values import Principal, SecretValue
from services.audit_trail import AuditNote, AuditTrail
from services.secret_service import SecretService, StoredVersion, utc_now

RAILWAY_KEY = "railway"
GITHUB_KEY = "github"
MAX_TOKEN_BYTES = 4096
# Vault keeps 10 versions; the per-version kind map keeps as many.
_KIND_HISTORY = 10


def _validate_token(token: SecretValue, field: str) -> None:
    plain = token.reveal()
    if not plain.strip():
        raise InvalidInput("the token must not be empty", field=field)
    if token.byte_length() > MAX_TOKEN_BYTES or any(ord(c) < 33 for c in plain):
        raise InvalidInput(
            f"a token is at most {MAX_TOKEN_BYTES} bytes without spaces or control characters", field=field
        )


def _written(note: AuditNote, stored: StoredVersion, secret_type: SecretType) -> None:
    note.version, note.secret_type = stored.version, secret_type.value
    note.action = AuditAction.CREATE if stored.previous_version == 0 else AuditAction.UPDATE


def token_kinds(metadata: SecretMetadata) -> dict[str, str]:
    """The Railway token kind of each version, from the secret's metadata ({"3": "project"})."""
    try:
        decoded = json.loads(metadata.extra.get("token_kinds", "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}


def with_token_kind(metadata: SecretMetadata, version: int, kind: str) -> SecretMetadata:
    kinds = token_kinds(metadata)
    kinds[str(version)] = kind
    newest = sorted(kinds, key=int)[-_KIND_HISTORY:]
    encoded = json.dumps({k: kinds[k] for k in newest}, separators=(",", ":"))
    return replace(metadata, extra={**metadata.extra, "token_kind": kind, "token_kinds": encoded})


# --------------------------------------------------------------------------------------------
# Railway


@dataclass(frozen=True, slots=True)
class RailwayStored:
    validated: bool
    stored_at: datetime
    version: int
    previous_version: int
    info: RailwayTokenInfo


@dataclass(frozen=True, slots=True)
class RailwayStatus:
    configured: bool
    last_validated: datetime | None
    needs_rotation: bool
    source: str | None  # "vault", "env" or None
    version: int | None = None
    token_kind: str | None = None


@dataclass(frozen=True, slots=True)
class RailwayValidation:
    valid: bool
    permissions: tuple[str, ...]
    kind: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class RailwayPolicy:
    vault_enabled: bool = True
    max_age_days: int = 90
    legacy_token: SecretValue | None = None  # RAILWAY_API_TOKEN
    allow_env_fallback: bool = True

    @property
    def fallback(self) -> SecretValue | None:
        return self.legacy_token if self.allow_env_fallback or not self.vault_enabled else None


class RailwayTokenService:
    """Store, inspect, validate, rotate and delete the caller's Railway token."""

    def __init__(
        self,
        *,
        secrets: SecretService,
        trail: AuditTrail,
        validator: RailwayTokenValidator,
        accounts: UserAccounts,
        environments: EnvironmentRegistry,
        policy: RailwayPolicy = RailwayPolicy(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._secrets = secrets
        self._trail = trail
        self._validator = validator
        self._accounts = accounts
        self._environments = environments
        self._policy = policy
        self._clock = clock

    def _require_vault(self) -> None:
        if not self._policy.vault_enabled:
            raise VaultDisabled("per-user Railway tokens are disabled on this deployment (SECRETS_VAULT_ENABLED=false)")

    async def store(self, principal: Principal, token: SecretValue) -> RailwayStored:
        async with self._trail.record(principal, AuditAction.UPDATE, key=RAILWAY_KEY) as note:
            stored = await self.store_unrecorded(principal, token)
            _written(note, stored, SecretType.RAILWAY_TOKEN)
        return stored

    async def store_unrecorded(
        self,
        principal: Principal,
        token: SecretValue,
        *,
        cas: int | None = None,
        validated: RailwayTokenInfo | None = None,  # the migration validates a shared token once
    ) -> RailwayStored:
        """`store` without an audit event: for callers that record their own (rotate, the migration)."""
        self._require_vault()
        _validate_token(token, "token")
        info = validated or await self._validator.validate(token)  # raises before anything is stored
        validated_at = self._clock()

        def amend(metadata: SecretMetadata) -> SecretMetadata:
            return replace(metadata, secret_type=SecretType.RAILWAY_TOKEN.value, last_validated=validated_at)

        stored, metadata = await self._secrets.store_fields(
            principal, RAILWAY_KEY, {"token": token}, amend=amend, cas=cas
        )
        # The kind belongs to the version just written, known only now.
        await self._secrets.amend_metadata(
            principal, RAILWAY_KEY, lambda current: with_token_kind(current, stored.version, info.kind)
        )
        await self._accounts.set_railway_source(principal.user_id, TOKEN_SOURCE_VAULT, validated_at=validated_at)
        return RailwayStored(True, validated_at, stored.version, stored.previous_version, info)

    async def rotate(self, principal: Principal, new_token: SecretValue) -> RailwayStored:
        """A new, validated version on top of the current one; the old one stays for rollback."""
        async with self._trail.record(principal, AuditAction.ROTATE, key=RAILWAY_KEY) as note:
            note.secret_type = SecretType.RAILWAY_TOKEN.value
            stored = await self._rotate(principal, new_token)
            note.version = stored.version
        return stored

    async def _rotate(self, principal: Principal, new_token: SecretValue) -> RailwayStored:
        self._require_vault()
        _validate_token(new_token, "new_token")
        metadata, vault_metadata = await self._secrets.get_metadata(principal, RAILWAY_KEY)  # 404 if none
        current = await self._secrets.get(principal, RAILWAY_KEY)
        if current.value == new_token:
            raise InvalidInput("the new token is the token already stored", field="new_token")
        try:
            return await self.store_unrecorded(principal, new_token, cas=vault_metadata.current_version)
        except VersionConflict as conflict:
            raise VersionConflict(
                "the Railway token changed during the rotation; retry", current_version=conflict.current_version
            ) from None

    async def status(self, principal: Principal) -> RailwayStatus:
        async with self._trail.record(principal, AuditAction.METADATA_READ, key=RAILWAY_KEY) as note:
            note.secret_type = SecretType.RAILWAY_TOKEN.value
            status = await self._status(principal)
            note.version = status.version
            if status.source != TOKEN_SOURCE_VAULT:
                note.reason = "shared RAILWAY_API_TOKEN" if status.source == "env" else "not configured"
        return status

    async def _status(self, principal: Principal) -> RailwayStatus:
        if self._policy.vault_enabled:
            try:
                metadata, vault_metadata = await self._secrets.get_metadata(principal, RAILWAY_KEY)
            except SecretNotFound:
                pass
            else:
                age = self._clock() - vault_metadata.updated_at
                version = vault_metadata.current_version
                current = vault_metadata.current
                if current is not None:
                    age = self._clock() - current.created_at
                return RailwayStatus(
                    configured=True,
                    last_validated=metadata.last_validated,
                    needs_rotation=age > timedelta(days=self._policy.max_age_days),
                    source=TOKEN_SOURCE_VAULT,
                    version=version,
                    token_kind=token_kinds(metadata).get(str(version)),
                )
        if self._policy.fallback is not None:
            return RailwayStatus(configured=True, last_validated=None, needs_rotation=False, source="env")
        return RailwayStatus(configured=False, last_validated=None, needs_rotation=False, source=None)

    async def validate(self, principal: Principal) -> RailwayValidation:
        """Ask Railway about the token in use now; a stored token's `last_validated` moves on success."""
        async with self._trail.record(principal, AuditAction.VALIDATE, key=RAILWAY_KEY) as note:
            note.secret_type = SecretType.RAILWAY_TOKEN.value
            result = await self._validate(principal, note)
            if not result.valid:
                note.outcome = AuditOutcome.INVALID
                note.reason = _join(note.reason, result.detail)
        return result

    async def _validate(self, principal: Principal, note: AuditNote) -> RailwayValidation:
        status = await self._status(principal)
        note.version = status.version
        if status.source == "env":
            note.reason = "shared RAILWAY_API_TOKEN"
        if status.source == TOKEN_SOURCE_VAULT:
            token = (await self._secrets.get(principal, RAILWAY_KEY)).value
        elif status.source == "env":
            token = self._policy.fallback
            assert token is not None
        else:
            raise SecretNotFound("no Railway token is configured")
        try:
            info = await self._validator.validate(token)
        except ProviderRejected as rejected:
            return RailwayValidation(valid=False, permissions=(), detail=str(rejected))
        if status.source == TOKEN_SOURCE_VAULT:
            at = self._clock()
            version = status.version or 0
            await self._secrets.amend_metadata(
                principal,
                RAILWAY_KEY,
                lambda m: with_token_kind(replace(m, last_validated=at), version, info.kind),
            )
            await self._accounts.set_railway_source(principal.user_id, TOKEN_SOURCE_VAULT, validated_at=at)
        return RailwayValidation(valid=True, permissions=info.permissions, kind=info.kind)

    async def delete(self, principal: Principal) -> int:
        """Soft delete; returns how many of the user's environments relied on the token."""
        async with self._trail.record(principal, AuditAction.DELETE, key=RAILWAY_KEY) as note:
            note.secret_type = SecretType.RAILWAY_TOKEN.value
            await self._secrets.delete(principal, RAILWAY_KEY)
            await self._accounts.set_railway_source(principal.user_id, None)
        return await self._environments.count(principal.user_id)


# --------------------------------------------------------------------------------------------
# GitHub


@dataclass(frozen=True, slots=True)
class GitHubStatus:
    configured: bool
    last_validated: datetime | None = None
    username: str | None = None
    scopes: tuple[str, ...] = ()
    token_type: str | None = None
    expires_at: datetime | None = None
    expires_soon: bool = False


class GitHubTokenService:
    """Store, inspect and delete the caller's GitHub token (validated with `GET /user`)."""

    EXPIRY_WARNING = timedelta(days=7)

    def __init__(
        self,
        *,
        secrets: SecretService,
        trail: AuditTrail,
        validator: GitHubTokenValidator,
        accounts: UserAccounts,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._secrets = secrets
        self._trail = trail
        self._validator = validator
        self._accounts = accounts
        self._clock = clock

    async def store(self, principal: Principal, token: SecretValue) -> str:
        async with self._trail.record(principal, AuditAction.UPDATE, key=GITHUB_KEY) as note:
            note.secret_type = SecretType.GITHUB_PAT.value
            username, stored = await self._store(principal, token)
            _written(note, stored, SecretType.GITHUB_PAT)
        return username

    async def _store(self, principal: Principal, token: SecretValue) -> tuple[str, StoredVersion]:
        _validate_token(token, "token")
        info = await self._validator.validate(token)
        at = self._clock()
        extra = {
            "username": info.username,
            "scopes": json.dumps(list(info.scopes), separators=(",", ":")),
            "token_type": info.token_type,
        }
        if info.expires_at is not None:
            extra["expires_at"] = info.expires_at.isoformat()

        def amend(metadata: SecretMetadata) -> SecretMetadata:
            kept = {k: v for k, v in metadata.extra.items() if k != "expires_at"}
            return replace(
                metadata, secret_type=SecretType.GITHUB_PAT.value, last_validated=at, extra={**kept, **extra}
            )

        stored, _ = await self._secrets.store_fields(principal, GITHUB_KEY, {"token": token}, amend=amend)
        await self._accounts.set_github_validated(principal.user_id, at)
        return info.username, stored

    async def status(self, principal: Principal) -> GitHubStatus:
        async with self._trail.record(principal, AuditAction.METADATA_READ, key=GITHUB_KEY) as note:
            note.secret_type = SecretType.GITHUB_PAT.value
            status = await self._status(principal)
            if not status.configured:
                note.reason = "not configured"
        return status

    async def _status(self, principal: Principal) -> GitHubStatus:
        try:
            metadata, _ = await self._secrets.get_metadata(principal, GITHUB_KEY)
        except SecretNotFound:
            return GitHubStatus(configured=False)
        extra = metadata.extra
        try:
            scopes = tuple(json.loads(extra.get("scopes", "[]")))
        except ValueError:
            scopes = ()
        expires_at = parse_time(extra.get("expires_at"))
        return GitHubStatus(
            configured=True,
            last_validated=metadata.last_validated,
            username=extra.get("username"),
            scopes=scopes,
            token_type=extra.get("token_type"),
            expires_at=expires_at,
            expires_soon=expires_at is not None and expires_at - self._clock() < self.EXPIRY_WARNING,
        )

    async def delete(self, principal: Principal) -> None:
        async with self._trail.record(principal, AuditAction.DELETE, key=GITHUB_KEY) as note:
            note.secret_type = SecretType.GITHUB_PAT.value
            await self._secrets.delete(principal, GITHUB_KEY)
            await self._accounts.set_github_validated(principal.user_id, None)


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else None


# --------------------------------------------------------------------------------------------
# Docker registries


@dataclass(frozen=True, slots=True)
class DockerCredentials:
    registry: str
    username: str
    email: str | None
    password: SecretValue
    version: int
    last_validated: datetime | None = None


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
            _written(note, stored, SecretType.DOCKER_CREDENTIALS)
        return host, stored.version

    async def registries(self, principal: Principal) -> list[str]:
        async with self._trail.record(principal, AuditAction.LIST) as note:
            note.secret_type = SecretType.DOCKER_CREDENTIALS.value
            records = await self._secrets.list(principal, secret_type=SecretType.DOCKER_CREDENTIALS.value)
        return [r.key.split("/", 1)[1] for r in records if "/" in r.key]

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
            if result.valid:
                at = self._clock()
                await self._secrets.amend_metadata(
                    principal, docker_key(credentials.registry), lambda m: replace(m, last_validated=at)
                )
            else:
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
            if fmt == "railway":
                return railway_registry_credentials(credentials.username, credentials.password)
            return docker_config_auth_entry(credentials.registry, credentials.username, credentials.password)


__all__ = [
    "RAILWAY",
    "DockerCredentialService",
    "GitHubTokenService",
    "RailwayPolicy",
    "RailwayTokenKind",
    "RailwayTokenService",
    "token_kinds",
]
