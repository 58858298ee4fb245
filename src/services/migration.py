"""Moving Railway tokens off the shared `RAILWAY_API_TOKEN` into each user's Vault path.

Each token is validated with Railway before it is written. Re-running is safe: a user whose Vault
already holds the same token is skipped, and a user who stored a token of their own is never
overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from domain.credentials import TOKEN_SOURCE_VAULT, TokenSourceCounts, UserAccounts
from domain.errors import DomainError, SecretNotFound
from domain.providers import ProviderRejected, RailwayTokenInfo, RailwayTokenValidator
from domain.values import Principal, SecretValue, is_valid_user_id
from services.provider_tokens import RAILWAY_KEY, RailwayTokenService
from services.secret_service import SecretService

MIGRATED = "migrated"
WOULD_MIGRATE = "would_migrate"
ALREADY = "already_migrated"
KEPT_OWN = "kept_own_token"
INVALID = "invalid"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MigrationItem:
    user_id: str
    token: SecretValue


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
        railway_tokens: RailwayTokenService,
        validator: RailwayTokenValidator,
        accounts: UserAccounts,
    ) -> None:
        self._secrets = secrets
        self._railway = railway_tokens
        self._validator = validator
        self._accounts = accounts

    async def legacy_items(self, token: SecretValue, user_ids: Iterable[str] | None = None) -> list[MigrationItem]:
        """The shared token for the given users, or for every user without a Vault token."""
        if user_ids is None:
            counts_users = await self._accounts.user_ids()
            user_ids = [u for u in counts_users if await self._accounts.railway_source(u) != TOKEN_SOURCE_VAULT]
        return [MigrationItem(user_id=u, token=token) for u in user_ids]

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
        principal = Principal(user_id=item.user_id)
        try:
            try:
                existing = (await self._secrets.get(principal, RAILWAY_KEY)).value
            except SecretNotFound:
                existing = None
            if existing is not None:
                if existing == item.token:
                    await self._accounts.set_railway_source(item.user_id, TOKEN_SOURCE_VAULT)
                    return MigrationOutcome(item.user_id, ALREADY)
                return MigrationOutcome(item.user_id, KEPT_OWN, "the user stored a different token; not overwritten")
            if item.token not in validated:
                try:
                    validated[item.token] = await self._validator.validate(item.token)
                except ProviderRejected as rejected:
                    validated[item.token] = rejected
            answer = validated[item.token]
            if isinstance(answer, ProviderRejected):
                return MigrationOutcome(item.user_id, INVALID, str(answer))
            if dry_run:
                return MigrationOutcome(item.user_id, WOULD_MIGRATE)
            await self._railway.store(principal, item.token, validated=answer)
            return MigrationOutcome(item.user_id, MIGRATED)
        except DomainError as error:
            return MigrationOutcome(item.user_id, FAILED, f"{type(error).__name__}: {error}")

    async def status(self) -> TokenSourceCounts:
        return await self._accounts.token_sources()
