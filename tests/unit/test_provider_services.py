"""Provider services on in-memory fakes: validation before storage, rotation, the per-user client,
environment variables (bulk, dotenv, concurrency), sync previews and the token migration."""

from __future__ import annotations

import asyncio

import pytest

from domain.credentials import CredentialMissing, RailwayTarget, VaultDisabled, parse_dotenv
from domain.errors import Forbidden, InvalidInput
from domain.providers import RAILWAY, GitHubTokenInfo, ProviderRateLimited, ProviderRejected
from domain.values import Principal, SecretValue
from services.migration import ALREADY, INVALID, KEPT_OWN, MIGRATED, WOULD_MIGRATE, MigrationItem
from services.railway_tokens import RailwayPolicy
from tests.fakes.provider_world import ALICE, World

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


async def test_a_rejected_or_rate_limited_token_stores_nothing(world):
    with pytest.raises(ProviderRejected):
        await world.railway.store(ALICE, SecretValue("nope"))
    world.railway_api.kinds["t1"] = "account"
    world.railway_api.error = ProviderRateLimited(RAILWAY, 30)
    with pytest.raises(ProviderRateLimited):
        await world.railway.store(ALICE, SecretValue("t1"))
    assert world.vault.writes == 0 and world.index.records == {} and world.accounts.sources == {}


async def test_store_rotate_rollback_and_the_client_uses_the_right_token(world):
    world.railway_api.kinds.update({"acct": "account", "proj": "project"})
    first = await world.railway.store(ALICE, SecretValue("acct"))
    assert (first.version, world.accounts.sources["alice"]) == (1, "vault")
    rotated = await world.railway.rotate(ALICE, SecretValue("proj"))
    assert (rotated.version, rotated.previous_version) == (2, 1)
    bound = await world.clients.client_for(ALICE)
    assert (bound.api.token, bound.kind, bound.version) == ("proj", "project", 2)

    await world.secrets.rollback(ALICE, "railway", to_version=1)
    validations = world.railway_api.validations
    bound = await world.clients.client_for(ALICE)
    assert (bound.api.token, bound.kind, bound.version) == ("acct", "account", 3)
    assert world.railway_api.validations == validations + 1  # the rolled-back version's kind, learned once
    await world.clients.client_for(ALICE)
    assert world.railway_api.validations == validations + 1


async def test_rotate_needs_a_new_valid_token(world):
    world.railway_api.kinds["a"] = "account"
    await world.railway.store(ALICE, SecretValue("a"))
    with pytest.raises(InvalidInput):
        await world.railway.rotate(ALICE, SecretValue("a"))
    with pytest.raises(ProviderRejected):
        await world.railway.rotate(ALICE, SecretValue("b"))
    assert (await world.railway.status(ALICE)).version == 1


async def test_status_needs_rotation_after_the_maximum_age():
    world = World(RailwayPolicy(max_age_days=0 + 1))
    world.railway_api.kinds["a"] = "account"
    await world.railway.store(ALICE, SecretValue("a"))
    assert (await world.railway.status(ALICE)).needs_rotation is False
    from datetime import UTC, datetime, timedelta

    world.railway._clock = lambda: datetime.now(UTC) + timedelta(days=2)
    assert (await world.railway.status(ALICE)).needs_rotation is True


async def test_fallback_and_missing_token():
    legacy = SecretValue("shared")
    off = World(RailwayPolicy(vault_enabled=False, legacy_token=legacy))
    off.railway_api.kinds["shared"] = "account"
    assert (await off.railway.status(ALICE)).source == "env"
    with pytest.raises(VaultDisabled):
        await off.railway.store(ALICE, SecretValue("shared"))
    assert (await off.clients.client_for(ALICE)).api.token == "shared"
    assert off.accounts.sources["alice"] == "env"

    no_fallback = World(RailwayPolicy(legacy_token=legacy, allow_env_fallback=False))
    with pytest.raises(CredentialMissing) as missing:
        await no_fallback.clients.client_for(ALICE)
    assert missing.value.provider == RAILWAY
    assert (await no_fallback.railway.status(ALICE)).configured is False


async def test_github_keeps_username_scopes_type_and_expiry(world):
    from datetime import UTC, datetime

    world.github_api.users["ghp_x"] = GitHubTokenInfo(
        username="octo",
        user_id=1,
        scopes=("repo",),
        token_type="classic",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        public_repos=1,
        total_private_repos=None,
    )
    assert await world.github.store(ALICE, SecretValue("ghp_x")) == "octo"
    status = await world.github.status(ALICE)
    assert (status.username, status.scopes, status.token_type, status.expires_at.year) == (
        "octo",
        ("repo",),
        "classic",
        2030,
    )
    await world.github.delete(ALICE)
    assert (await world.github.status(ALICE)).configured is False


async def test_docker_credentials_and_their_formats(world):
    registry, _ = await world.docker.store(
        ALICE, registry="https://GHCR.io/", username="u", password=SecretValue("p"), email=None
    )
    assert registry == "ghcr.io" and [e.registry for e in await world.docker.registries(ALICE)] == ["ghcr.io"]
    assert (await world.docker.export(ALICE, "ghcr.io", "railway")) == {"username": "u", "password": "p"}
    assert "ghcr.io" in (await world.docker.export(ALICE, "ghcr.io", "docker_config"))["auths"]
    world.registry.logins[("ghcr.io", "u")] = "p"
    assert (await world.docker.test(ALICE, "ghcr.io")).valid
    assert (await world.docker.get(ALICE, "ghcr.io")).last_validated is not None
    # A rollback of docker credentials keeps every field.
    await world.docker.store(ALICE, registry="ghcr.io", username="v", password=SecretValue("q"), email="a@b.c")
    await world.secrets.rollback(ALICE, "docker/ghcr.io", to_version=1)
    restored = await world.docker.get(ALICE, "ghcr.io")
    assert (restored.username, restored.password.reveal(), restored.email) == ("u", "p", None)


async def test_bulk_is_one_write_and_all_or_nothing(world):
    with pytest.raises(InvalidInput):
        await world.env.bulk(ALICE, "dev", {"OK": SecretValue("1"), "9BAD": SecretValue("2")})
    assert world.vault.writes == 0
    done = await world.env.bulk(ALICE, "dev", {"A": SecretValue("1"), "B": SecretValue("2")})
    assert (done.stored, world.vault.writes) == (2, 1)
    assert await world.env.keys(ALICE, "dev") == ["A", "B"]


async def test_concurrent_single_key_writes_never_lose_an_update(world):
    await asyncio.gather(*(world.env.set(ALICE, "dev", f"K{i}", SecretValue(str(i))) for i in range(10)))
    assert await world.env.keys(ALICE, "dev") == sorted(f"K{i}" for i in range(10))


def test_dotenv_parsing():
    parsed = parse_dotenv(
        '# comment\n\nexport A=1\nB = two words # note\nC="x\\ny \\"q\\""\nD=\'lit $X \\n\'\nE=\nF="multi\nline"\nA=override\n'
    )
    assert {k: v.reveal() for k, v in parsed.items()} == {
        "A": "override",
        "B": "two words",
        "C": 'x\ny "q"',
        "D": "lit $X \\n",
        "E": "",
        "F": "multi\nline",
    }
    for bad in ("NOEQUALS", "1A=x", 'Q="open', "A='x' trailing"):
        with pytest.raises(InvalidInput):
            parse_dotenv(bad)


async def test_sync_preview_then_apply_remembers_the_target(world):
    world.railway_api.kinds["a"] = "account"
    await world.railway.store(ALICE, SecretValue("a"))
    await world.env.bulk(ALICE, "web", {"A": SecretValue("1"), "B": SecretValue("new")})
    target = RailwayTarget("p", "e")
    world.railway_api.remote[("p", "e", None)] = {"B": "old", "C": "gone"}
    plan = await world.sync.sync(ALICE, "web", target=target, dry_run=True)
    assert ([c.key for c in plan.added], [c.key for c in plan.changed], [c.key for c in plan.removed]) == (
        ["A"],
        ["B"],
        ["C"],
    )
    assert world.railway_api.sent == [] and not plan.applied
    with pytest.raises(InvalidInput):  # no ids yet and none remembered
        await world.sync.sync(ALICE, "web", target=None)
    await world.sync.sync(ALICE, "web", target=target, replace=True)
    assert world.railway_api.remote[("p", "e", None)] == {"A": "1", "B": "new"}
    again = await world.sync.sync(ALICE, "web", target=None, dry_run=True)
    assert again.target == target and again.unchanged == 2


async def test_migration_is_validated_dry_runnable_and_rerun_safe(world):
    world.railway_api.kinds.update({"shared": "account", "own": "account"})
    world.accounts.sources.update({"u1": None, "u2": "env"})
    await world.railway.store(Principal(user_id="u3"), SecretValue("own"))
    items = await world.migration.legacy_items(SecretValue("shared"))
    assert [i.user_id for i in items] == ["u1", "u2"]
    items.append(MigrationItem("u3", SecretValue("shared")))
    items.append(MigrationItem("u4", SecretValue("bad")))

    dry = await world.migration.migrate(items, dry_run=True)
    assert [o.result for o in dry.outcomes] == [WOULD_MIGRATE, WOULD_MIGRATE, KEPT_OWN, INVALID]
    assert world.accounts.sources["u1"] is None
    progress: list[tuple[int, int]] = []
    real = await world.migration.migrate(items, progress=lambda d, t: progress.append((d, t)))
    assert [o.result for o in real.outcomes] == [MIGRATED, MIGRATED, KEPT_OWN, INVALID]
    assert progress[-1] == (4, 4)
    again = await world.migration.migrate(items[:2])
    assert [o.result for o in again.outcomes] == [ALREADY, ALREADY]
    counts = await world.migration.status(Principal(user_id="ops", is_admin=True))
    assert (counts.vault, counts.env) == (3, 0)


async def test_the_migration_counts_are_for_admins_only(world):
    with pytest.raises(Forbidden):
        await world.migration.status(ALICE)
