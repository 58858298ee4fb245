"""Environment variables and the provider services on fakes: exactly one audit event per
operation, named `env_vars/{env}[/{KEY}]`, and never a value."""

from __future__ import annotations

import pytest

from domain.credentials import RailwayTarget
from domain.errors import InvalidInput, SecretNotFound
from domain.values import Principal, SecretValue
from services.migration import MigrationItem
from tests.fakes.provider_world import ALICE, World

pytestmark = pytest.mark.unit


CANARY = "canary-env-value-7f3a"


def trail(world: World) -> list[tuple[str, str | None, str]]:
    return [(e.action.value, e.secret_key, e.outcome.value) for e in world.audit_log.events]


def assert_no_values(world: World, *values: str) -> None:
    for event in world.audit_log.events:
        text = repr(event.to_event())
        for value in values:
            assert value not in text


async def test_every_environment_operation_leaves_one_event():
    world = World()
    env = world.env
    await env.set(ALICE, "prod", "API_KEY", SecretValue(CANARY))
    await env.set(ALICE, "prod", "API_KEY", SecretValue(CANARY + "2"))
    await env.bulk(ALICE, "prod", {"A": SecretValue(CANARY + "a"), "B": SecretValue(CANARY + "b")})
    await env.bulk_dotenv(ALICE, "prod", f"C={CANARY}c\n")
    assert (await env.get(ALICE, "prod", "API_KEY")).value.reveal() == CANARY + "2"
    assert await env.keys(ALICE, "prod") == ["A", "API_KEY", "B", "C"]
    assert set((await env.values(ALICE, "prod")).variables) == {"A", "API_KEY", "B", "C"}
    await env.delete(ALICE, "prod", "A")
    with pytest.raises(SecretNotFound):
        await env.get(ALICE, "prod", "MISSING")
    with pytest.raises(SecretNotFound):
        await env.delete(ALICE, "prod", "MISSING")
    with pytest.raises(InvalidInput):
        await env.set(ALICE, "prod", "1BAD", SecretValue(CANARY))

    assert trail(world) == [
        ("create", "env_vars/prod/API_KEY", "success"),
        ("update", "env_vars/prod/API_KEY", "success"),
        ("bulk_import", "env_vars/prod", "success"),
        ("bulk_import", "env_vars/prod", "success"),
        ("read", "env_vars/prod/API_KEY", "success"),
        ("list", "env_vars/prod", "success"),
        ("export", "env_vars/prod", "success"),
        ("delete", "env_vars/prod/A", "success"),
        ("read", "env_vars/prod/MISSING", "not_found"),
        ("delete", "env_vars/prod/MISSING", "not_found"),
        ("update", "invalid:'env_vars/prod/1BAD'", "invalid"),  # a refused key, marked
    ]
    events = world.audit_log.events
    assert events[2].reason == "2 variables: A, B" and events[3].reason == "dotenv, 1 variables: C"
    assert [e.version for e in events[:4]] == [1, 2, 3, 4]
    assert {e.actor_id for e in events} == {"alice"} and {e.subject_user_id for e in events} == {"alice"}
    assert_no_values(world, CANARY)


async def test_sync_is_one_sync_event_plus_the_clients_use_of_the_token():
    world = World()
    world.railway_api.kinds["tok-canary"] = "account"
    await world.railway.store(ALICE, SecretValue("tok-canary"))
    await world.env.set(ALICE, "prod", "A", SecretValue(CANARY))
    before = len(world.audit_log.events)
    await world.sync.sync(ALICE, "prod", target=RailwayTarget("p1", "e1"), dry_run=True)
    await world.sync.sync(ALICE, "prod", target=RailwayTarget("p1", "e1"))
    events = world.audit_log.events[before:]
    # The client's read of the token ends (and is appended) inside the sync.
    assert [(e.action.value, e.secret_key, e.reason) for e in events] == [
        ("read", "railway", "railway client"),
        ("sync", "env_vars/prod", "dry run"),
        ("read", "railway", "railway client"),
        ("sync", "env_vars/prod", None),
    ]
    assert_no_values(world, CANARY, "tok-canary")


async def test_provider_operations_are_recorded_once_and_the_migration_as_the_system():
    world = World()
    world.railway_api.kinds.update({"tok-a": "account", "tok-b": "project", "shared": "account"})
    await world.railway.store(ALICE, SecretValue("tok-a"))
    await world.railway.rotate(ALICE, SecretValue("tok-b"))
    await world.railway.validate(ALICE)
    await world.railway.status(ALICE)
    await world.railway.delete(ALICE)
    assert trail(world) == [
        ("create", "railway", "success"),
        ("rotate", "railway", "success"),
        ("validate", "railway", "success"),
        ("metadata_read", "railway", "success"),
        ("delete", "railway", "success"),
    ]
    world.audit_log.events.clear()
    summary = await world.migration.migrate(
        [
            MigrationItem("u1", SecretValue("shared"), origin="RAILWAY_API_TOKEN"),
            MigrationItem("u2", SecretValue("bad")),
        ]
    )
    assert [o.result for o in summary.outcomes] == ["migrated", "invalid"]
    assert [(e.actor_id, e.subject_user_id, e.action.value, e.outcome.value) for e in world.audit_log.events] == [
        ("system", "u1", "create", "success"),
        ("system", "u2", "validate", "invalid"),
    ]
    assert world.audit_log.events[0].reason == "migrated from RAILWAY_API_TOKEN by migrate-tokens"
    assert_no_values(world, "tok-a", "tok-b", "shared")
    assert Principal("u1") != ALICE
