"""Traced/metered port wrappers over the in-memory fakes and the real OpenBao adapter, and the
request plugin + /metrics on a small Litestar app.

Every test plants canaries (a value, a user id, a key name, tokens) and checks that no span
(name, attribute, event, status) and no metric line carries them, while the spans and series the
operators rely on are there and move.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

import pytest
from litestar import Litestar, Request, get
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY, generate_latest

from adapters.cache.memory import InProcessSecretCache
from adapters.telemetry.metrics import (
    metrics_handler,
    observe_audit_append,
    record_auth_failure,
    request_metrics_config,
    set_circuit_breaker_state,
    track_circuit_breaker,
)
from adapters.telemetry.tracing import (
    TimedAuditLog,
    TracedSecretCache,
    TracedSecretIndex,
    TracedSecretVault,
    TracedVaultSessions,
    configure_tracing,
    key_type_of_path,
    opentelemetry_plugin,
)
from adapters.vault.breaker import CircuitBreaker
from domain.audit import AuditAction, AuditEvent, AuditOutcome, AuditUnavailable
from domain.errors import NotAuthenticated, SecretNotFound, VaultUnavailable, VersionConflict, VersionNotFound
from domain.ports import CachedSecret
from domain.secrets import SecretRecord, VaultEntry
from domain.values import Principal, SecretValue
from tests.fakes.audit import InMemoryAuditLog
from tests.fakes.index import InMemorySecretIndex
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.integration


JWT_CANARY = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.Y2FuYXJ5LXNpZ25hdHVyZS1jYW5hcnk"


@pytest.fixture(scope="module")
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def spans(tracing):
    _, exporter = tracing
    exporter.clear()

    def finished() -> list[ReadableSpan]:
        return list(exporter.get_finished_spans())

    return finished


@pytest.fixture
def provider(tracing):
    return tracing[0]


@pytest.fixture
def canaries():
    tag = uuid.uuid4().hex[:12]
    return {
        "value": f"value-canary-{tag}",
        "user": f"user-canary-{tag}",
        "key": f"key-canary-{tag}",
        "token": f"hvs.TokenCanary{tag}AAAAAAAAAAAA",
    }


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def metrics_text() -> str:
    return generate_latest(REGISTRY).decode()


def assert_clean(spans: list[ReadableSpan], canaries: dict[str, str]) -> None:
    """No canary in any span's JSON (name, attributes, events, links, status, resource)."""
    assert spans
    for span in spans:
        text = span.to_json()
        for name, canary in canaries.items():
            assert canary not in text, f"{name} canary leaked into span {span.name}"
        assert not span.events, f"span {span.name} recorded events"
    metrics = metrics_text()
    for name, canary in canaries.items():
        assert canary not in metrics, f"{name} canary leaked into the metrics"


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


# -- vault ---------------------------------------------------------------------------------------


async def exercise_vault(vault, canaries, kind: str = "custom") -> str:
    path = f"users/{canaries['user']}/{kind}/{canaries['key']}"
    data = {"value": SecretValue(canaries["value"]), "token": SecretValue(canaries["token"])}
    entry = await vault.write(path, data, cas=0)
    assert entry.version == 1
    read = await vault.read(path)
    assert read.data["value"].reveal() == canaries["value"]
    await vault.read(path, version=1)
    with pytest.raises(VersionConflict):
        await vault.write(path, data, cas=0)
    with pytest.raises(VersionNotFound):
        await vault.read(path, version=7)
    with pytest.raises(SecretNotFound):
        await vault.read(f"users/{canaries['user']}/{kind}/{canaries['key']}-missing")
    meta = await vault.read_metadata(path)
    assert meta is not None and meta.current_version == 1
    await vault.set_custom_metadata(path, {"created_by": canaries["user"], "tags": canaries["key"]})
    await vault.soft_delete(path)
    health = await vault.health()
    assert health.reachable
    return path


def check_vault_spans(spans: list[ReadableSpan], kind: str) -> None:
    names = [span.name for span in spans]
    for expected in (
        "vault.write",
        "vault.read",
        "vault.read_metadata",
        "vault.set_custom_metadata",
        "vault.soft_delete",
        "vault.health",
    ):
        assert expected in names
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert span.attributes["mirage.port"] == "vault"
        assert span.attributes["mirage.operation"] == span.name.removeprefix("vault.")
        if span.name != "vault.health":
            assert span.attributes["mirage.key_type"] == kind
    writes = by_name(spans, "vault.write")
    assert [s.attributes["mirage.outcome"] for s in writes] == ["ok", "VersionConflict"]
    assert writes[0].attributes["mirage.secret.version"] == 1
    assert writes[0].attributes["mirage.vault.cas"] == 0
    assert writes[0].attributes["mirage.secret.field_count"] == 2
    # An expected answer is not an error span; the class name is all that is kept.
    assert writes[1].status.status_code is StatusCode.UNSET
    assert writes[1].attributes["error.type"] == "VersionConflict"
    reads = by_name(spans, "vault.read")
    assert [s.attributes["mirage.outcome"] for s in reads] == ["ok", "ok", "VersionNotFound", "SecretNotFound"]
    assert reads[1].attributes["mirage.secret.version_requested"] == 1
    health = by_name(spans, "vault.health")[0]
    assert health.attributes["mirage.vault.reachable"] is True
    assert health.attributes["mirage.vault.sealed"] is False


async def test_fake_vault_spans_metrics_and_no_canary(provider, spans, canaries):
    vault = TracedSecretVault(InMemorySecretVault(), tracer_provider=provider)
    ok_before = sample("vault_call_seconds_count", {"operation": "read", "outcome": "ok"})
    missing_before = sample("vault_errors_total", {"operation": "read", "error": "SecretNotFound"})
    down_before = sample("vault_errors_total", {"operation": "read", "error": "VaultUnavailable"})

    await exercise_vault(vault, canaries)
    check_vault_spans(spans(), "custom")

    vault.inner.available = False  # an outage: the span is an error, the errors counter moves
    with pytest.raises(VaultUnavailable):
        await vault.read(f"users/{canaries['user']}/github")
    await vault.health()
    failed = by_name(spans(), "vault.read")[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "VaultUnavailable"
    assert failed.attributes["mirage.key_type"] == "github"

    assert sample("vault_call_seconds_count", {"operation": "read", "outcome": "ok"}) == ok_before + 2
    assert sample("vault_errors_total", {"operation": "read", "error": "SecretNotFound"}) == missing_before + 1
    assert sample("vault_errors_total", {"operation": "read", "error": "VaultUnavailable"}) == down_before + 1
    assert sample("vault_reachable") == 0.0
    assert_clean(spans(), canaries)


async def test_real_openbao_vault_spans_metrics_and_no_canary(hvac_vault, provider, spans, canaries):
    vault = TracedSecretVault(hvac_vault, tracer_provider=provider)
    before = sample("vault_call_seconds_count", {"operation": "write", "outcome": "ok"})
    conflicts_before = sample("vault_errors_total", {"operation": "write", "error": "VersionConflict"})

    await exercise_vault(vault, canaries, kind="env_vars")
    check_vault_spans(spans(), "env_vars")

    assert sample("vault_call_seconds_count", {"operation": "write", "outcome": "ok"}) == before + 1
    assert sample("vault_errors_total", {"operation": "write", "error": "VersionConflict"}) == conflicts_before + 1
    assert sample("vault_call_seconds_sum", {"operation": "write", "outcome": "ok"}) > 0
    assert sample("vault_sealed") == 0.0
    assert sample("vault_reachable") == 1.0
    assert vault.inner is hvac_vault  # what is not part of the port is reached through `inner`, explicitly
    assert_clean(spans(), canaries)


async def test_sessions_hand_out_traced_vaults(provider, spans, canaries):
    sessions = TracedVaultSessions(OneVaultForEveryone(InMemorySecretVault()), tracer_provider=provider)
    vault = await sessions.for_principal(Principal(user_id=canaries["user"], credential=SecretValue(JWT_CANARY)))
    assert isinstance(vault, TracedSecretVault)
    await vault.write(f"users/{canaries['user']}/railway", {"token": SecretValue(canaries["token"])}, cas=0)
    names = [span.name for span in spans()]
    assert names == ["vault.session", "vault.write"]
    assert by_name(spans(), "vault.write")[0].attributes["mirage.key_type"] == "railway"
    assert_clean(spans(), {**canaries, "jwt": JWT_CANARY})


def test_key_types_never_carry_the_key():
    assert key_type_of_path("users/u1/railway") == "railway"
    assert key_type_of_path("users/u1/github") == "github"
    assert key_type_of_path("users/u1/docker/ghcr.io") == "docker"
    assert key_type_of_path("users/u1/env_vars/env-1") == "env_vars"
    assert key_type_of_path("users/u1/custom/db_url") == "custom"
    assert key_type_of_path("users/u1/weird/x") == "other"
    assert key_type_of_path("service/cache-key") == "service"


# -- cache ---------------------------------------------------------------------------------------


def cached(canaries) -> CachedSecret:
    entry = VaultEntry(data={"value": SecretValue(canaries["value"])}, version=3, created_at=datetime.now(UTC))
    return CachedSecret(
        entry=entry,
        custom={"tags": canaries["key"]},
        current_version=3,
        updated_at=datetime.now(UTC),
        cached_at=time.time(),
    )


async def test_cache_hits_and_misses(provider, spans, canaries):
    cache = TracedSecretCache(InProcessSecretCache(), tracer_provider=provider)
    path = f"users/{canaries['user']}/custom/{canaries['key']}"
    hits, misses = sample("cache_requests_total", {"result": "hit"}), sample("cache_requests_total", {"result": "miss"})

    assert await cache.get(path) is None
    await cache.put(path, cached(canaries))
    assert (await cache.get(path)).entry.data["value"].reveal() == canaries["value"]
    await cache.invalidate(path)
    assert await cache.get(path) is None

    assert sample("cache_requests_total", {"result": "hit"}) == hits + 1
    assert sample("cache_requests_total", {"result": "miss"}) == misses + 2
    gets = by_name(spans(), "cache.get")
    assert [span.attributes["mirage.cache.hit"] for span in gets] == [False, True, False]
    assert gets[1].attributes["mirage.secret.version"] == 3
    assert {span.name for span in spans()} == {"cache.get", "cache.put", "cache.invalidate"}
    assert all(span.attributes["mirage.key_type"] == "custom" for span in spans())
    assert sample("port_call_seconds_count", {"port": "cache", "operation": "put", "outcome": "ok"}) >= 1
    cache.inner.clear()  # not a port method: reached through `inner`, explicitly
    assert len(cache.inner) == 0
    assert_clean(spans(), canaries)


# -- index, audit, anything else -----------------------------------------------------------------


async def test_index_spans(provider, spans, canaries):
    index = TracedSecretIndex(InMemorySecretIndex(), tracer_provider=provider)
    now = datetime.now(UTC)
    record = SecretRecord(
        user_id=canaries["user"],
        key=canaries["key"],
        secret_type="custom",
        tags=(canaries["value"],),
        created_at=now,
        updated_at=now,
        current_version=1,
        description=canaries["value"],
    )
    await index.upsert(record)
    assert (await index.get(canaries["user"], canaries["key"])) is not None
    listed = await index.list(canaries["user"], tags=(canaries["value"],), query=canaries["key"])
    assert len(listed) == 1
    await index.record_access(canaries["user"], canaries["key"], now)
    await index.mark_deleted(canaries["user"], canaries["key"], now)
    names = [span.name for span in spans()]
    assert names == ["index.upsert", "index.get", "index.list", "index.record_access", "index.mark_deleted"]
    listing = by_name(spans(), "index.list")[0]
    assert listing.attributes["mirage.result_count"] == 1
    assert listing.attributes["mirage.filter.tags"] == 1
    assert by_name(spans(), "index.get")[0].attributes["mirage.found"] is True
    assert_clean(spans(), canaries)


async def test_audit_append_is_timed(provider, spans, canaries):
    audit = TimedAuditLog(InMemoryAuditLog(), tracer_provider=provider)
    before = sample("audit_append_seconds_count", {"outcome": "ok"})
    failed_before = sample("audit_append_seconds_count", {"outcome": "AuditUnavailable"})
    event = AuditEvent(
        actor_id=canaries["user"],
        subject_user_id=canaries["user"],
        secret_key=canaries["key"],
        action=AuditAction.READ,
        outcome=AuditOutcome.SUCCESS,
        reason=canaries["value"][:0] or None,
    )
    await audit.append(event)
    audit.inner.available = False
    with pytest.raises(AuditUnavailable):
        await audit.append(event)
    assert sample("audit_append_seconds_count", {"outcome": "ok"}) == before + 1
    assert sample("audit_append_seconds_count", {"outcome": "AuditUnavailable"}) == failed_before + 1
    appends = by_name(spans(), "audit.append")
    assert [span.attributes["mirage.audit.action"] for span in appends] == ["read", "read"]
    assert appends[1].status.status_code is StatusCode.ERROR
    observe_audit_append(0.002)
    assert sample("audit_append_seconds_count", {"outcome": "ok"}) == before + 2
    assert_clean(spans(), canaries)


# -- gauges and counters fed by the composition root / problem handler --------------------------


async def test_breaker_state_and_auth_failures(provider, canaries):
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=lambda: clock[0], name="vault-test")
    track_circuit_breaker(breaker)
    assert sample("circuit_breaker_state", {"name": "vault-test"}) == 0
    breaker.before_call()
    breaker.record_failure()
    vault = TracedSecretVault(InMemorySecretVault(), tracer_provider=provider)
    await vault.health()  # any Vault call refreshes tracked breakers
    assert sample("circuit_breaker_state", {"name": "vault-test"}) == 2
    clock[0] = 11.0
    metrics_text()
    await vault.health()
    assert sample("circuit_breaker_state", {"name": "vault-test"}) == 1
    set_circuit_breaker_state("other-breaker", "open")
    assert sample("circuit_breaker_state", {"name": "other-breaker"}) == 2

    expired = sample("auth_failures_total", {"reason": "expired"})
    other = sample("auth_failures_total", {"reason": "other"})
    record_auth_failure(NotAuthenticated("the token has expired"))
    record_auth_failure(f"Bearer {JWT_CANARY}")  # caller-supplied text never becomes a label
    record_auth_failure(canaries["token"])
    assert sample("auth_failures_total", {"reason": "expired"}) == expired + 1
    assert sample("auth_failures_total", {"reason": "other"}) == other + 2
    assert JWT_CANARY not in metrics_text() and canaries["token"] not in metrics_text()


def test_configure_tracing_reads_the_standard_variables():
    assert configure_tracing(env={}, set_global=False) is None
    assert configure_tracing(env={"OTEL_TRACES_EXPORTER": "none"}, set_global=False) is None
    assert (
        configure_tracing(env={"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, set_global=False)
        is None
    )
    console = configure_tracing(env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "svc-x"}, set_global=False)
    assert console is not None and console.resource.attributes["service.name"] == "svc-x"
    console.shutdown()
    # An endpoint alone selects OTLP (nothing is sent: no span is made).
    otlp = configure_tracing(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, set_global=False)
    assert otlp is not None and otlp.resource.attributes["service.name"] == "mirage-secrets"
    otlp.shutdown()


# -- requests ------------------------------------------------------------------------------------


def tiny_app(provider) -> Litestar:
    @get("/api/v1/secrets/{key:str}", sync_to_thread=False)
    def echo(key: Annotated[str, PathParameter()], request: Request) -> dict[str, str | None]:
        return {"key": key, "authorization": request.headers.get("authorization")}

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[echo, healthz, metrics_handler(multiprocess_dir=None)],
        plugins=[opentelemetry_plugin(tracer_provider=provider)],
        middleware=[request_metrics_config().middleware],
        logging_config=None,
    )


async def test_request_span_and_metrics_endpoint(provider, spans, canaries, monkeypatch):
    # Even when the environment asks the instrumentation to capture every header.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", ".*")
    template = "/api/v1/secrets/{key}"  # Litestar's path_template drops the type
    labels = {"app_name": "mirage-secrets", "method": "GET", "path": template, "status_code": "200"}
    before = sample("http_requests_total", labels)

    async with AsyncTestClient(app=tiny_app(provider)) as client:
        response = await client.get(
            f"/api/v1/secrets/{canaries['key']}",
            params={"token": canaries["token"], "user": canaries["user"]},
            headers={
                "Authorization": f"Bearer {JWT_CANARY}",
                "X-Vault-Token": canaries["token"],
                "X-Request-ID": "req-1",
            },
        )
        assert response.status_code == 200
        assert response.json()["authorization"] == f"Bearer {JWT_CANARY}"  # the handler did see it
        assert (await client.get("/healthz")).status_code == 200
        request_spans = spans()
        metrics = await client.get("/metrics")

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    assert "# TYPE http_requests_total counter" in body
    assert f'path="{template}"' in body
    assert sample("http_requests_total", labels) == before + 1
    assert "vault_call_seconds" in body and "circuit_breaker_state" in body
    for name, canary in {**canaries, "jwt": JWT_CANARY}.items():
        assert canary not in body, f"{name} canary in /metrics"
    assert "/healthz" not in body and 'path="/metrics"' not in body

    (server,) = [span for span in request_spans if span.kind is SpanKind.SERVER]
    assert len(request_spans) == 1  # no receive/send spans, /healthz not traced
    assert server.name == f"GET {template}"
    assert server.attributes["http.route"] == template
    assert server.attributes["http.target"] == template
    assert server.attributes["http.status_code"] == 200
    assert server.attributes["http.request.header.x_request_id"] == ("req-1",)
    assert not any("authorization" in name or "vault_token" in name for name in server.attributes)
    assert_clean(request_spans, {**canaries, "jwt": JWT_CANARY})

    # After the scrape, the /metrics request itself is neither traced nor counted.
    assert len(spans()) == 1


async def test_openmetrics_negotiation(provider):
    async with AsyncTestClient(app=tiny_app(provider)) as client:
        response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
