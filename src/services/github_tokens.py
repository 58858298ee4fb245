"""GitHub tokens: validated with GitHub (user, scopes, token type, expiry) before storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.audit import AuditAction
from domain.errors import SecretNotFound
from domain.lifecycle import expiry_status
from domain.ports import GitHubTokenValidator, UserAccounts
from domain.secrets import SecretMetadata, SecretType, parse_time
from domain.values import Principal, SecretValue
from services.audit_trail import AuditTrail
from services.provider_common import GITHUB_KEY, validate_token, written
from services.secret_service import SecretService, StoredVersion, utc_now


@dataclass(frozen=True, slots=True)
class GitHubStatus:
    configured: bool
    last_validated: datetime | None = None
    username: str | None = None
    scopes: tuple[str, ...] = ()
    token_type: str | None = None
    expires_at: datetime | None = None
    expires_soon: bool = False
    expires_in_days: int | None = None
    warning: str | None = None  # set within 14 days of the expiry GitHub reported
    repository_count: int | None = None  # as counted at the last validation


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
            written(note, stored, SecretType.GITHUB_PAT)
        return username

    async def _store(self, principal: Principal, token: SecretValue) -> tuple[str, StoredVersion]:
        validate_token(token, "token")
        info = await self._validator.validate(token)
        at = self._clock()
        extra = {
            "username": info.username,
            "scopes": json.dumps(list(info.scopes), separators=(",", ":")),
            "token_type": info.token_type,
        }
        if info.expires_at is not None:
            extra["expires_at"] = info.expires_at.isoformat()
        if info.repository_count is not None:
            extra["repository_count"] = str(info.repository_count)

        def amend(metadata: SecretMetadata) -> SecretMetadata:
            # What this validation did not report must not survive from an older one.
            kept = {k: v for k, v in metadata.extra.items() if k not in ("expires_at", "repository_count")}
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
        days, warning = expiry_status(expires_at, self._clock())
        count = extra.get("repository_count", "")
        return GitHubStatus(
            expires_in_days=days,
            warning=warning,
            repository_count=int(count) if count.isdigit() else None,
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
