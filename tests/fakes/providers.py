"""In-memory fakes of the provider ports, the users table's token columns and the environments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from domain.credentials import EnvironmentRecord, RailwayTarget, TokenSourceCounts
from domain.providers import (
    RAILWAY,
    RAILWAY_PERMISSIONS,
    GitHubTokenInfo,
    ProviderRejected,
    RailwayTokenInfo,
    RegistryLoginResult,
)
from domain.values import SecretValue


class FakeRailwayValidator:
    """Knows tokens by plaintext → kind; `RailwayClients` too: clients record what they send."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}
        self.validations = 0
        self.error: Exception | None = None  # raised by the next validate
        self.sent: list[tuple[str, str, dict[str, str]]] = []  # (token, kind, variables)
        self.remote: dict[tuple[str, str, str | None], dict[str, str]] = {}

    async def validate(self, token: SecretValue) -> RailwayTokenInfo:
        self.validations += 1
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        kind = self.kinds.get(token.reveal())
        if kind is None:
            raise ProviderRejected(RAILWAY, "Railway answered: Not Authorized")
        return RailwayTokenInfo(kind=kind, permissions=RAILWAY_PERMISSIONS[kind])  # type: ignore[arg-type]

    def client_for(self, token: SecretValue, kind: str) -> FakeRailwayApi:
        return FakeRailwayApi(self, token.reveal(), kind)


@dataclass
class FakeRailwayApi:
    owner: FakeRailwayValidator
    token: str
    kind: str

    async def upsert_variables(
        self, project_id, environment_id, service_id, variables: Mapping[str, SecretValue], replace=False
    ):
        plain = {k: v.reveal() for k, v in variables.items()}
        self.owner.sent.append((self.token, self.kind, plain))
        key = (project_id, environment_id, service_id)
        self.owner.remote[key] = plain if replace else {**self.owner.remote.get(key, {}), **plain}

    async def get_variables(self, project_id, environment_id, service_id) -> dict[str, SecretValue]:
        return {
            k: SecretValue(v) for k, v in self.owner.remote.get((project_id, environment_id, service_id), {}).items()
        }


class FakeGitHubValidator:
    def __init__(self) -> None:
        self.users: dict[str, GitHubTokenInfo] = {}

    async def validate(self, token: SecretValue) -> GitHubTokenInfo:
        info = self.users.get(token.reveal())
        if info is None:
            raise ProviderRejected("github", "GitHub answered: Bad credentials")
        return info


class FakeRegistryTester:
    def __init__(self) -> None:
        self.logins: dict[tuple[str, str], str] = {}

    async def test(self, registry: str, username: str, password: SecretValue) -> RegistryLoginResult:
        ok = self.logins.get((registry, username)) == password.reveal()
        return RegistryLoginResult(valid=ok, detail="ok" if ok else "rejected", scheme="basic")


@dataclass
class InMemoryUserAccounts:
    sources: dict[str, str | None] = field(default_factory=dict)
    railway_validated: dict[str, datetime | None] = field(default_factory=dict)
    github_validated: dict[str, datetime | None] = field(default_factory=dict)

    async def set_railway_source(self, user_id, source, *, validated_at=None):
        self.sources[user_id] = source
        if validated_at is not None or source is None:
            self.railway_validated[user_id] = validated_at

    async def mark_env_fallback(self, user_id):
        if self.sources.get(user_id) is None:
            self.sources[user_id] = "env"

    async def railway_source(self, user_id):
        return self.sources.get(user_id)

    async def set_github_validated(self, user_id, at):
        self.sources.setdefault(user_id, None)
        self.github_validated[user_id] = at

    async def token_sources(self) -> TokenSourceCounts:
        values = list(self.sources.values())
        return TokenSourceCounts(
            total=len(values), vault=values.count("vault"), env=values.count("env"), none=values.count(None)
        )

    async def user_ids(self):
        return sorted(self.sources)


@dataclass
class InMemoryEnvironmentRegistry:
    records: dict[tuple[str, str], EnvironmentRecord] = field(default_factory=dict)

    async def ensure(self, user_id, env_id):
        now = datetime.now(UTC)
        self.records.setdefault((user_id, env_id), EnvironmentRecord(user_id, env_id, now, now))

    async def get(self, user_id, env_id):
        return self.records.get((user_id, env_id))

    async def set_railway_target(self, user_id, env_id, target: RailwayTarget):
        record = self.records[(user_id, env_id)]
        self.records[(user_id, env_id)] = replace(record, railway=target)

    async def count(self, user_id):
        return sum(1 for owner, _ in self.records if owner == user_id)
