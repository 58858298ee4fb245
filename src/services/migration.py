"""Moving Railway tokens off the shared `RAILWAY_API_TOKEN` into each user's Vault path.

Each token is validated with Railway before it is written. Re-running is safe: a user whose Vault
already holds the same token is skipped, and a user who stored a token of their own is never
overwritten.

Auditing: every valid user processed leaves one event, actor "system" (the operator, as admin),
subject the user, secret `railway`: `create` for a migrated token (reason "migrated from
RAILWAY_API_TOKEN by migrate-tokens", or "migrated by migrate-tokens" for a CSV row), `validate` for a dry run or a token Railway rejects
(outcome `invalid`), `read` when the user's Vault already held a token (already migrated, or
their own kept). A malformed user id touches no secret and is only reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from domain.audit import SYSTEM_ACTOR, AuditAction, AuditOutcome
from domain.authorization import AdminAbility, authorize
from domain.credentials import TOKEN_SOURCE_VAULT, TokenSourceCounts
from domain.errors import DomainError, SecretNotFound
from domain.ports import RailwayTokenValidator, UserAccounts
from domain.providers import ProviderRejected, RailwayTokenInfo
from domain.secrets import SecretType
from domain.values import Principal, SecretValue, is_valid_user_id
from services.audit_trail import AuditNote, AuditTrail
from services.provider_common import RAILWAY_KEY
from services.railway_tokens import RailwayTokenService
from services.secret_service import SecretService

MIGRATED = "migrated"
WOULD_MIGRATE = "would_migrate"
ALREADY = "already_migrated"
KEPT_OWN = "kept_own_token"
INVALID = "invalid"
FAILED = "failed"

OPERATOR = Principal(user_id=SYSTEM_ACTOR, is_admin=True)
_REASON = "migrate-tokens"


@dataclass(frozen=True, slots=True)
class MigrationItem:
    user_id: str
    token: SecretValue
    origin: str | None = None  # where the token came from, for the audit event ("RAILWAY_API_TOKEN")


@dataclass(frozen=True, slots=True)
class MigrationOutcome:
    user_id: str
    result: str
    detail: str | None = None


@dataclass
class MigrationSummary:
    outcomes: list[MigrationOutcome] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def failed(self) -> int:
        return self.count(INVALID) + self.count(FAILED)

    def lines(self) -> list[str]:
        order = (MIGRATED, WOULD_MIGRATE, ALREADY, KEPT_OWN, INVALID, FAILED)
        counts = ", ".join(f"{name}: {self.count(name)}" for name in order if self.count(name))
        lines = [f"{len(self.outcomes)} users: {counts or 'nothing to do'}"]
        lines += [
            f"  {o.user_id}: {o.result}" + (f" ({o.detail})" if o.detail else "")
            for o in self.outcomes
            if o.result in (INVALID, FAILED, KEPT_OWN)
        ]
        return lines


class MigrationService:
    def __init__(
        self,
        *,
        secrets: SecretService,
        trail: AuditTrail,
        railway_tokens: RailwayTokenService,
        validator: RailwayTokenValidator,
        accounts: UserAccounts,
    ) -> None:
        self._secrets = secrets
        self._trail = trail
        self._railway = railway_tokens
        self._validator = validator
        self._accounts = accounts

    async def legacy_items(self, token: SecretValue, user_ids: Iterable[str] | None = None) -> list[MigrationItem]:
        """The shared token for the given users, or for every user without a Vault token."""
        if user_ids is None:
            counts_users = await self._accounts.user_ids()
            user_ids = [u for u in counts_users if await self._accounts.railway_source(u) != TOKEN_SOURCE_VAULT]
        return [MigrationItem(user_id=u, token=token, origin="RAILWAY_API_TOKEN") for u in user_ids]

    async def migrate(
        self,
        items: list[MigrationItem],
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> MigrationSummary:
        summary = MigrationSummary()
        validated: dict[SecretValue, RailwayTokenInfo | ProviderRejected] = {}  # the shared token is asked once
        for done, item in enumerate(items, start=1):
            summary.outcomes.append(await self._one(item, dry_run=dry_run, validated=validated))
            if progress is not None:
                progress(done, len(items))
        return summary

    async def _one(
        self, item: MigrationItem, *, dry_run: bool, validated: dict[SecretValue, RailwayTokenInfo | ProviderRejected]
    ) -> MigrationOutcome:
        if not is_valid_user_id(item.user_id):
            return MigrationOutcome(item.user_id[:64], INVALID, "not a valid user id")
        try:
            async with self._trail.record(
                OPERATOR, AuditAction.CREATE, key=RAILWAY_KEY, subject_user_id=item.user_id
            ) as note:
                note.reason = f"migrated from {item.origin} by {_REASON}" if item.origin else f"migrated by {_REASON}"
                return await self._migrate_one(item, dry_run=dry_run, validated=validated, note=note)
        except DomainError as error:
            return MigrationOutcome(item.user_id, FAILED, f"{type(error).__name__}: {error}")

    async def _migrate_one(
        self,
        item: MigrationItem,
        *,
        dry_run: bool,
        validated: dict[SecretValue, RailwayTokenInfo | ProviderRejected],
        note: AuditNote,
    ) -> MigrationOutcome:
        principal = Principal(user_id=item.user_id)
        try:
            view = await self._secrets.get(principal, RAILWAY_KEY)
        except SecretNotFound:
            view = None
        if view is not None:
            note.action, note.version = AuditAction.READ, view.version
            if view.value == item.token:
                note.reason = f"{_REASON}: already migrated"
                await self._accounts.set_railway_source(item.user_id, TOKEN_SOURCE_VAULT)
                return MigrationOutcome(item.user_id, ALREADY)
            note.reason = f"{_REASON}: the user's own token kept"
            return MigrationOutcome(item.user_id, KEPT_OWN, "the user stored a different token; not overwritten")
        if item.token not in validated:
            try:
                validated[item.token] = await self._validator.validate(item.token)
            except ProviderRejected as rejected:
                validated[item.token] = rejected
        answer = validated[item.token]
        if isinstance(answer, ProviderRejected):
            note.action, note.outcome = AuditAction.VALIDATE, AuditOutcome.INVALID
            note.reason = f"{_REASON}: {answer}"
            return MigrationOutcome(item.user_id, INVALID, str(answer))
        if dry_run:
            note.action, note.reason = AuditAction.VALIDATE, f"{_REASON} dry run: would migrate"
            return MigrationOutcome(item.user_id, WOULD_MIGRATE)
        stored = await self._railway.store_unrecorded(principal, item.token, validated=answer)
        note.version, note.secret_type = stored.version, SecretType.RAILWAY_TOKEN.value
        note.action = AuditAction.CREATE if stored.previous_version == 0 else AuditAction.UPDATE
        return MigrationOutcome(item.user_id, MIGRATED)

    async def status(self, principal: Principal) -> TokenSourceCounts:
        """How many users are on Vault tokens, the shared env token or none (admins only)."""
        authorize(principal, AdminAbility.READ_MIGRATION_STATUS)
        return await self._accounts.token_sources()
