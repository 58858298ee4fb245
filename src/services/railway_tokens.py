"""Railway tokens: validated with Railway (account, then workspace, then project form) before storage,
rotated with check-and-set, and the policy for the shared `RAILWAY_API_TOKEN` fallback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.audit import AuditAction, AuditOutcome
from domain.credentials import TOKEN_SOURCE_ENV, TOKEN_SOURCE_VAULT, VaultDisabled
from domain.errors import InvalidInput, SecretNotFound, VersionConflict
from domain.lifecycle import expiry_status
from domain.ports import EnvironmentRegistry, RailwayTokenValidator, UserAccounts
from domain.providers import ProviderRejected, RailwayTokenInfo
from domain.secrets import SecretMetadata, SecretType
from domain.values import Principal, SecretValue
from services.audit_trail import AuditNote, AuditTrail
from services.provider_common import (
    RAILWAY_KEY,
    join_reasons,
    token_kinds,
    validate_token,
    with_token_kind,
    written,
)
from services.secret_service import SecretService, utc_now


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
    source: str | None  # TOKEN_SOURCE_VAULT, TOKEN_SOURCE_ENV or None
    version: int | None = None
    token_kind: str | None = None
    # Railway reports no expiry of its own: these come from a TTL set on the stored token.
    expires_at: datetime | None = None
    expires_in_days: int | None = None
    warning: str | None = None


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
            written(note, stored, SecretType.RAILWAY_TOKEN)
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
        validate_token(token, "token")
        info = validated or await self._validator.validate(token)  # raises before anything is stored
        validated_at = self._clock()

        def amend(metadata: SecretMetadata) -> SecretMetadata:
            return replace(metadata, secret_type=SecretType.RAILWAY_TOKEN.value, last_validated=validated_at)

        stored, _ = await self._secrets.store_fields(principal, RAILWAY_KEY, {"token": token}, amend=amend, cas=cas)
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
        validate_token(new_token, "new_token")
        _, vault_metadata = await self._secrets.get_metadata(principal, RAILWAY_KEY)  # 404 if none
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
                note.reason = "shared RAILWAY_API_TOKEN" if status.source == TOKEN_SOURCE_ENV else "not configured"
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
                days, warning = expiry_status(metadata.expires_at, self._clock())
                return RailwayStatus(
                    expires_at=metadata.expires_at,
                    expires_in_days=days,
                    warning=warning,
                    configured=True,
                    last_validated=metadata.last_validated,
                    needs_rotation=age > timedelta(days=self._policy.max_age_days),
                    source=TOKEN_SOURCE_VAULT,
                    version=version,
                    token_kind=token_kinds(metadata).get(str(version)),
                )
        if self._policy.fallback is not None:
            return RailwayStatus(configured=True, last_validated=None, needs_rotation=False, source=TOKEN_SOURCE_ENV)
        return RailwayStatus(configured=False, last_validated=None, needs_rotation=False, source=None)

    async def validate(self, principal: Principal) -> RailwayValidation:
        """Ask Railway about the token in use now; a stored token's `last_validated` moves on success."""
        async with self._trail.record(principal, AuditAction.VALIDATE, key=RAILWAY_KEY) as note:
            note.secret_type = SecretType.RAILWAY_TOKEN.value
            result = await self._validate(principal, note)
            if not result.valid:
                note.outcome = AuditOutcome.INVALID
                note.reason = join_reasons(note.reason, result.detail)
        return result

    async def _validate(self, principal: Principal, note: AuditNote) -> RailwayValidation:
        status = await self._status(principal)
        note.version = status.version
        if status.source == TOKEN_SOURCE_ENV:
            note.reason = "shared RAILWAY_API_TOKEN"
        if status.source == TOKEN_SOURCE_VAULT:
            token = (await self._secrets.get(principal, RAILWAY_KEY)).value
        elif status.source == TOKEN_SOURCE_ENV:
            fallback = self._policy.fallback
            assert fallback is not None
            token = fallback
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
