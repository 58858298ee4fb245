"""Fail closed: when the audit trail can't be written, no value leaves `AuditedSecretService`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.audit import AuditAction, AuditOutcome, AuditQuery, AuditUnavailable
from domain.errors import SecretNotFound
from domain.values import Principal, SecretValue
from services.audit_trail import AuditTrail
from services.audited_secret_service import AuditedSecretService
from tests.fakes.audit import InMemoryAuditLog
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.unit


ALICE = Principal(user_id="alice")
CANARY = "fail-closed-canary"


@pytest.fixture
def audit_log() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def service(audit_log) -> AuditedSecretService:
    return AuditedSecretService(
        trail=AuditTrail(audit_log),
        vaults=OneVaultForEveryone(InMemorySecretVault()),
        index=InMemorySecretIndex(),
        users=InMemoryUserDirectory(),
        cache=InProcessSecretCache(retention_seconds=3600),
    )


async def test_no_value_is_returned_when_the_read_cant_be_recorded(service, audit_log):
    await service.store(ALICE, key="db", value=SecretValue(CANARY))
    await service.store(ALICE, key="db", value=SecretValue(CANARY + "-2"))
    assert (await service.get(ALICE, "db")).value.reveal() == CANARY + "-2"  # warms the cache too
    before = len(audit_log.events)

    audit_log.available = False
    with pytest.raises(AuditUnavailable) as refused:
        await service.get(ALICE, "db")  # a cached value is no exception
    assert CANARY not in repr(refused.value) and CANARY not in str(refused.value)
    with pytest.raises(AuditUnavailable):
        await service.get_version(ALICE, "db", 1)
    assert len(audit_log.events) == before  # nothing was written, nothing pretends to be

    audit_log.available = True
    assert (await service.get(ALICE, "db")).value.reveal() == CANARY + "-2"
    reads = (await audit_log.query(AuditQuery(subject_user_id="alice", action=AuditAction.READ))).events
    assert [e.outcome for e in reads] == [AuditOutcome.SUCCESS, AuditOutcome.SUCCESS]


async def test_a_failed_operation_keeps_its_own_error_when_the_trail_is_down(service, audit_log):
    audit_log.available = False
    with pytest.raises(SecretNotFound):
        await service.get(ALICE, "never-stored")


async def test_a_write_that_cant_be_recorded_is_reported_as_failed(service, audit_log):
    audit_log.available = False
    with pytest.raises(AuditUnavailable):
        await service.store(ALICE, key="db", value=SecretValue(CANARY))


async def test_amend_metadata_returns_the_amended_metadata_and_records_one_event(service, audit_log):
    await service.store(ALICE, key="db", value=SecretValue(CANARY))
    before = len(audit_log.events)

    metadata, current = await service.amend_metadata(ALICE, "db", lambda m: replace(m, description="rotated by ops"))

    assert metadata.description == "rotated by ops"
    assert current.current_version == 1
    assert (await service.get_metadata(ALICE, "db"))[0].description == "rotated by ops"
    amended = audit_log.events[before]
    assert (amended.action, amended.outcome, amended.secret_key, amended.version) == (
        AuditAction.METADATA_UPDATE,
        AuditOutcome.SUCCESS,
        "db",
        1,
    )
