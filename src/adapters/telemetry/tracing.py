"""OpenTelemetry: the tracer provider, the Litestar request plugin, and traced port decorators.

Exporter selection (`configure_tracing`, from the ``OTEL_*`` variables the entrypoint's settings hand it):

- ``OTEL_SDK_DISABLED=true``                   -> no provider (None)
- ``OTEL_TRACES_EXPORTER``                     -> comma list of ``otlp`` | ``console`` | ``none``
- unset, and ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set -> ``otlp``
- unset otherwise                              -> ``none``
- ``OTEL_SERVICE_NAME`` (else the argument), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``
  and every ``OTEL_EXPORTER_OTLP_*`` variable (headers, timeout, certificates, compression) are
  read by the SDK and the OTLP/HTTP exporter themselves. Only OTLP over HTTP/protobuf is installed;
  ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` is reported and HTTP is used.

Requests (`opentelemetry_plugin`): Litestar's `OpenTelemetryPlugin` over the ASGI instrumentation.
By default that instrumentation records method, scheme, host, port, client address, user agent,
the raw path (``http.target``) and the full URL *with the query string* (``http.url``); it
captures no headers unless ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` names some
(it falls back to that variable whenever the configured list is empty), and never records bodies.
Here:

- the span is named ``{method} {route template}`` and ``http.route`` is the template (resolved
  with the app's own router); the raw path and the query are replaced by the template, because
  paths carry key names (``/api/v1/secrets/{key}``) and queries carry filters;
- only ``x-request-id`` is captured (an explicit list, so the environment fallback never applies),
  and the sanitiser would mask anything named like authorization/cookie/token/secret/password;
- ``/healthz`` and ``/metrics`` are not traced, the per-message receive/send spans are off, and
  the instrumentation's own OTel metrics go to a no-op meter (Prometheus is the metrics path).

Ports (`TracedSecretVault`, `TracedSecretCache`, `TracedSecretIndex`, `TracedVaultSessions`,
`TimedAuditLog`, each typed against its port in `domain.ports`): one span per call named
``{port}.{operation}`` (``vault.read``, ``cache.get``, ``index.list`` ...) and the matching
Prometheus samples. Span attributes are derived, never copied from arguments:

- ``mirage.operation``, ``mirage.outcome`` (``ok`` or the exception class name), ``error.type``;
- ``mirage.key_type``: from the Vault path (``users/{id}/{railway|github|docker|env_vars|custom}``
  -> that word, any other path -> ``service``) or from the API key for the index;
- ``mirage.cache.hit`` for ``cache.get``; versions and counts where the call has them.

Deliberately absent: values, tokens, field names, the key name, the registry or environment id,
and the user id. The user id is not a secret, but it is personal data and spans may be shipped to
a third-party backend; the audit event of the same request carries the trace id and the user,
which is the join an operator needs. Exceptions are not recorded as span events: a message can
quote a vendor response, and only the class name is kept (as status description and
``error.type``). Expected answers (not found, version gone/missing, CAS conflict) leave the span
status unset; anything else marks it as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Generic, TypeVar

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.utils.path import normalize_path
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import SpanKind, Status, StatusCode

from adapters.telemetry.metrics import bound, get_metrics, observe_vault_health, refresh_circuit_breakers
from domain.audit import AuditEvent, AuditPage, AuditQuery, ChainHead, ChainVerification, StoredAuditEvent
from domain.errors import SecretNotFound, VersionConflict, VersionGone, VersionNotFound
from domain.ports import (
    AuditLog,
    CachedSecret,
    SecretCache,
    SecretIndex,
    SecretVault,
    VaultHealth,
    VaultSessions,
)
from domain.secrets import SecretRecord, VaultEntry, VaultMetadata
from domain.values import Principal, SecretValue

__all__ = [
    "TimedAuditLog",
    "TracedSecretCache",
    "TracedSecretIndex",
    "TracedSecretVault",
    "TracedVaultSessions",
    "configure_tracing",
    "key_type_of_key",
    "key_type_of_path",
    "opentelemetry_plugin",
]

log = logging.getLogger("mirage.telemetry")

T = TypeVar("T")
PortT = TypeVar("PortT")
VaultT = TypeVar("VaultT", bound=SecretVault)
SessionsT = TypeVar("SessionsT", bound=VaultSessions)
CacheT = TypeVar("CacheT", bound=SecretCache)
IndexT = TypeVar("IndexT", bound=SecretIndex)
AuditLogT = TypeVar("AuditLogT", bound=AuditLog)

TRACER_NAME = "mirage.secrets"
KEY_TYPES = frozenset({"railway", "github", "docker", "env_vars", "custom"})
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (SecretNotFound, VersionNotFound, VersionGone, VersionConflict)
UNTRACED_PATHS = ("/healthz", "/metrics")

# -- provider ------------------------------------------------------------------------------------


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in {"1", "true", "yes", "on"}


def tracing_configured() -> bool:
    """True once an SDK tracer provider is installed, i.e. spans go somewhere.

    Without one, the request instrumentation would only produce non-recording spans, and it is
    among the costliest layers on the hot path, so the app leaves it out.
    """
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def configure_tracing(
    service_name: str = "mirage-secrets",
    *,
    env: Mapping[str, str],
    set_global: bool = True,
) -> TracerProvider | None:
    """Build (and by default install globally) a tracer provider from the standard ``OTEL_*``
    variables; None when tracing is off. The caller shuts the provider down at exit
    (``provider.shutdown()`` flushes the batch processor).

    `env` holds the ``OTEL_*`` variables, read by the entrypoint's settings (never here, never at import).
    The global provider can only be set once per process; later calls return their provider
    without installing it (OpenTelemetry logs a warning).
    """
    if _flag(env.get("OTEL_SDK_DISABLED")):
        return None
    raw = env.get("OTEL_TRACES_EXPORTER")
    if raw is None or not raw.strip():
        has_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        names = ["otlp"] if has_endpoint else ["none"]
    else:
        names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter(service_name=env.get("OTEL_SERVICE_NAME") or service_name))
        elif name == "otlp":
            protocol = (
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
            ).lower()
            if protocol and protocol != "http/protobuf":
                log.warning("OTLP protocol %r is not installed; exporting over http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())  # reads OTEL_EXPORTER_OTLP_* itself
        else:
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", name)
    if not exporters:
        return None
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider


# -- requests ------------------------------------------------------------------------------------


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The route template a request will be routed to, from the app's own (cached) router."""
    if scope.get("path_template"):
        return scope["path_template"]
    app = scope.get("litestar_app") or scope.get("app")
    router = getattr(app, "asgi_router", None)
    if router is None:
        return None
    path = scope.get("path", "")
    if root_path := scope.get("root_path", ""):
        path = path.split(root_path, maxsplit=1)[-1]
    try:
        *_, template = router.handle_routing(path=normalize_path(path), method=scope.get("method"))
    except Exception:  # no route: 404/405, answered by the router
        return None
    return template


def _span_details(scope: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    method = str(scope.get("method") or scope.get("type") or "").strip()
    template = route_template(scope)
    if template is None:
        return method or "HTTP", {}
    return f"{method} {template}".strip(), {HTTP_ROUTE: template}


# Attributes the ASGI instrumentation fills from the raw path / URL, old and new conventions.
_RAW_URL_ATTRIBUTES = ("http.target", "url.path")
_FULL_URL_ATTRIBUTES = ("http.url", "url.full")
_QUERY_ATTRIBUTES = ("url.query",)


def _scrub_request_span(span: trace.Span, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    template = route_template(scope) or "<unmatched>"
    attributes = getattr(span, "attributes", None) or {}
    for name in _RAW_URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, template)
    for name in _FULL_URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, template)
    for name in _QUERY_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, "")


def opentelemetry_plugin(
    *,
    tracer_provider: trace.TracerProvider | None = None,
    exclude: Sequence[str] = UNTRACED_PATHS,
) -> OpenTelemetryPlugin:
    """Litestar's OpenTelemetry plugin, configured so request spans carry route templates and no
    credentials (see the module docstring). Pass it in ``Litestar(plugins=[...])``."""
    config = OpenTelemetryConfig(
        tracer_provider=tracer_provider,
        meter_provider=NoOpMeterProvider(),
        scope_span_details_extractor=_span_details,
        server_request_hook_handler=_scrub_request_span,
        exclude=[f"^{path}$" for path in exclude],
        exclude_spans=["receive", "send"],
        http_capture_headers_server_request=["x-request-id"],
        http_capture_headers_server_response=["x-request-id"],
        http_capture_headers_sanitize_fields=["authorization", "cookie", "token", "secret", "password", "api-?key"],
    )
    return OpenTelemetryPlugin(config)


# -- ports ---------------------------------------------------------------------------------------


def key_type_of_path(path: str) -> str:
    """``users/{id}/{kind}/...`` -> kind when it is a known type, ``other`` for an unknown kind;
    paths outside ``users/`` (the service's own, e.g. the cache key) -> ``service``."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "users":
        return parts[2] if parts[2] in KEY_TYPES else "other"
    if parts and parts[0] == "users":
        return "other"
    return "service"


def key_type_of_key(key: str) -> str:
    """The type an API key maps to (ARCHITECTURE.md, "Vault path contract")."""
    if key in ("railway", "github"):
        return key
    if key.startswith("docker/"):
        return "docker"
    return "custom"


# Tracing off: one reusable context yielding the non-recording span (its setters do nothing).
_NO_SPAN: AbstractContextManager[trace.Span] = contextlib.nullcontext(trace.INVALID_SPAN)


class _PortObserver:
    """Opens the span and records the metrics of one port call."""

    def __init__(self, port: str, tracer_provider: trace.TracerProvider | None, kind: SpanKind) -> None:
        self.port = port
        self._provider = tracer_provider
        self._kind = kind

    def _tracer(self) -> trace.Tracer | None:
        """The tracer for this call; None while no provider is installed (tracing off).

        Resolved per call so a provider installed after wrapping is used. With tracing off a span
        would be a no-op object and a context manager per port call: measurable on a warm read.
        """
        if self._provider is None and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return None
        return trace.get_tracer(TRACER_NAME, tracer_provider=self._provider)

    async def call(
        self,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        *,
        attributes: Mapping[str, Any] | None = None,
        on_result: Callable[[trace.Span, Any], None] | None = None,
    ) -> T:
        tracer = self._tracer()
        if tracer is None:
            span_context: AbstractContextManager[trace.Span] = _NO_SPAN
        else:
            span_attributes: dict[str, Any] = {"mirage.port": self.port, "mirage.operation": operation}
            if attributes:
                span_attributes.update(attributes)
            span_context = tracer.start_as_current_span(
                f"{self.port}.{operation}",
                kind=self._kind,
                attributes=span_attributes,
                record_exception=False,  # the message could quote a vendor answer
                set_status_on_exception=False,
            )
        with span_context as span:
            start = time.perf_counter()
            try:
                result = await fn()
            except asyncio.CancelledError:
                span.set_attribute("mirage.outcome", "cancelled")
                self.record(operation, "cancelled", time.perf_counter() - start, None)
                raise
            except Exception as exc:
                outcome = type(exc).__name__
                span.set_attribute("mirage.outcome", outcome)
                span.set_attribute("error.type", outcome)
                if not isinstance(exc, EXPECTED_ERRORS):
                    span.set_status(Status(StatusCode.ERROR, outcome))
                self.record(operation, outcome, time.perf_counter() - start, exc)
                raise
            span.set_attribute("mirage.outcome", "ok")
            if on_result is not None:
                on_result(span, result)
            self.record(operation, "ok", time.perf_counter() - start, None, result)
            return result

    def record(
        self, operation: str, outcome: str, seconds: float, exc: BaseException | None, result: Any = None
    ) -> None:
        bound(get_metrics().port_call_seconds, self.port, operation, outcome).observe(seconds)


class _VaultObserver(_PortObserver):
    def record(
        self, operation: str, outcome: str, seconds: float, exc: BaseException | None, result: Any = None
    ) -> None:
        metrics = get_metrics()
        bound(metrics.vault_call_seconds, operation, outcome).observe(seconds)
        if exc is not None:
            bound(metrics.vault_errors_total, operation, outcome).inc()
        refresh_circuit_breakers()


class _CacheObserver(_PortObserver):
    def record(
        self, operation: str, outcome: str, seconds: float, exc: BaseException | None, result: Any = None
    ) -> None:
        super().record(operation, outcome, seconds, exc, result)
        if operation == "get":
            hit = exc is None and result is not None
            bound(get_metrics().cache_requests_total, "hit" if hit else "miss").inc()


class _Decorator(Generic[PortT]):
    """Holds the port implementation it decorates; `inner` is that implementation, typed as given
    (what is not part of the port, such as `close()`, is reached through it explicitly)."""

    def __init__(self, inner: PortT) -> None:
        self._inner = inner

    @property
    def inner(self) -> PortT:
        return self._inner


def _set_version(span: trace.Span, result: Any) -> None:
    version = getattr(result, "version", None)
    if isinstance(version, int):
        span.set_attribute("mirage.secret.version", version)


class TracedSecretVault(_Decorator[VaultT]):
    """`domain.ports.SecretVault` decorator: spans ``vault.*``, ``vault_call_seconds``,
    ``vault_errors_total``; `health()` also feeds ``vault_sealed``/``vault_reachable``."""

    def __init__(self, inner: VaultT, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__(inner)
        self._observe = _VaultObserver("vault", tracer_provider, SpanKind.CLIENT)

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        attributes: dict[str, Any] = {"mirage.key_type": key_type_of_path(path)}
        if version is not None:
            attributes["mirage.secret.version_requested"] = int(version)
        return await self._observe.call(
            "read", lambda: self._inner.read(path, version), attributes=attributes, on_result=_set_version
        )

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        def found(span: trace.Span, result: VaultMetadata | None) -> None:
            span.set_attribute("mirage.found", result is not None)
            if result is not None:
                span.set_attribute("mirage.secret.current_version", result.current_version)

        return await self._observe.call(
            "read_metadata",
            lambda: self._inner.read_metadata(path),
            attributes={"mirage.key_type": key_type_of_path(path)},
            on_result=found,
        )

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        return await self._observe.call(
            "write",
            lambda: self._inner.write(path, data, cas=cas),
            attributes={
                "mirage.key_type": key_type_of_path(path),
                "mirage.vault.cas": int(cas),
                "mirage.secret.field_count": len(data),
            },
            on_result=_set_version,
        )

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        return await self._observe.call(
            "set_custom_metadata",
            lambda: self._inner.set_custom_metadata(path, custom),
            attributes={"mirage.key_type": key_type_of_path(path)},
        )

    async def soft_delete(self, path: str) -> None:
        return await self._observe.call(
            "soft_delete", lambda: self._inner.soft_delete(path), attributes={"mirage.key_type": key_type_of_path(path)}
        )

    async def undelete(self, path: str, version: int) -> None:
        return await self._observe.call(
            "undelete",
            lambda: self._inner.undelete(path, version),
            attributes={"mirage.key_type": key_type_of_path(path)},
        )

    async def destroy(self, path: str) -> None:
        return await self._observe.call(
            "destroy", lambda: self._inner.destroy(path), attributes={"mirage.key_type": key_type_of_path(path)}
        )

    async def health(self) -> VaultHealth:
        def seen(span: trace.Span, health: VaultHealth) -> None:
            span.set_attribute("mirage.vault.reachable", health.reachable)
            span.set_attribute("mirage.vault.sealed", health.sealed)
            observe_vault_health(health)

        return await self._observe.call("health", self._inner.health, on_result=seen)


class TracedVaultSessions(_Decorator[SessionsT]):
    """`domain.ports.VaultSessions` decorator: every vault handed out is a `TracedSecretVault`.
    The session lookup itself (which may log in to Vault) is a ``vault.session`` span."""

    def __init__(self, inner: SessionsT, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__(inner)
        self._provider = tracer_provider
        self._observe = _VaultObserver("vault", tracer_provider, SpanKind.CLIENT)

    async def for_principal(self, principal: Principal) -> SecretVault:
        vault = await self._observe.call("session", lambda: self._inner.for_principal(principal))
        if isinstance(vault, TracedSecretVault):
            return vault
        return TracedSecretVault(vault, tracer_provider=self._provider)


class TracedSecretCache(_Decorator[CacheT]):
    """`domain.ports.SecretCache` decorator: spans ``cache.*`` with ``mirage.cache.hit`` on gets,
    ``cache_requests_total{result}`` and ``port_call_seconds{port="cache"}``."""

    def __init__(self, inner: CacheT, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__(inner)
        self._observe = _CacheObserver("cache", tracer_provider, SpanKind.CLIENT)

    async def get(self, path: str) -> CachedSecret | None:
        def hit(span: trace.Span, result: CachedSecret | None) -> None:
            span.set_attribute("mirage.cache.hit", result is not None)
            if result is not None:
                span.set_attribute("mirage.secret.version", result.current_version)

        return await self._observe.call(
            "get", lambda: self._inner.get(path), attributes={"mirage.key_type": key_type_of_path(path)}, on_result=hit
        )

    async def put(self, path: str, secret: CachedSecret) -> None:
        return await self._observe.call(
            "put", lambda: self._inner.put(path, secret), attributes={"mirage.key_type": key_type_of_path(path)}
        )

    async def invalidate(self, path: str) -> None:
        return await self._observe.call(
            "invalidate", lambda: self._inner.invalidate(path), attributes={"mirage.key_type": key_type_of_path(path)}
        )


class TracedSecretIndex(_Decorator[IndexT]):
    """`domain.ports.SecretIndex` decorator: spans ``index.*``, ``port_call_seconds{port="index"}``."""

    def __init__(self, inner: IndexT, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__(inner)
        self._observe = _PortObserver("index", tracer_provider, SpanKind.CLIENT)

    async def upsert(self, record: SecretRecord) -> None:
        return await self._observe.call(
            "upsert", lambda: self._inner.upsert(record), attributes={"mirage.key_type": key_type_of_key(record.key)}
        )

    async def get(self, user_id: str, key: str) -> SecretRecord | None:
        return await self._observe.call(
            "get",
            lambda: self._inner.get(user_id, key),
            attributes={"mirage.key_type": key_type_of_key(key)},
            on_result=lambda span, result: span.set_attribute("mirage.found", result is not None),
        )

    async def list(
        self, user_id: str, *, secret_type: str | None = None, tags: Sequence[str] = (), query: str | None = None
    ) -> list[SecretRecord]:
        return await self._observe.call(
            "list",
            lambda: self._inner.list(user_id, secret_type=secret_type, tags=tags, query=query),
            attributes={
                "mirage.filter.type": secret_type is not None,
                "mirage.filter.tags": len(tags),
                "mirage.filter.query": query is not None,
            },
            on_result=lambda span, result: span.set_attribute("mirage.result_count", len(result)),
        )

    async def mark_deleted(self, user_id: str, key: str, at: datetime) -> None:
        return await self._observe.call(
            "mark_deleted",
            lambda: self._inner.mark_deleted(user_id, key, at),
            attributes={"mirage.key_type": key_type_of_key(key)},
        )

    async def record_access(self, user_id: str, key: str, at: datetime) -> None:
        return await self._observe.call(
            "record_access",
            lambda: self._inner.record_access(user_id, key, at),
            attributes={"mirage.key_type": key_type_of_key(key)},
        )


class _AuditObserver(_PortObserver):
    def record(
        self, operation: str, outcome: str, seconds: float, exc: BaseException | None, result: Any = None
    ) -> None:
        super().record(operation, outcome, seconds, exc, result)
        if operation == "append":
            bound(get_metrics().audit_append_seconds, outcome).observe(seconds)


class TimedAuditLog(_Decorator[AuditLogT]):
    """`domain.ports.AuditLog` decorator: ``audit_append_seconds{outcome}`` and an ``audit.append``
    span (attribute: the action, e.g. ``read``); the other methods get ``audit.*`` spans."""

    def __init__(self, inner: AuditLogT, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__(inner)
        self._observe = _AuditObserver("audit", tracer_provider, SpanKind.CLIENT)

    async def append(self, event: AuditEvent) -> StoredAuditEvent:
        attributes = {"mirage.audit.action": event.action.value}
        return await self._observe.call("append", lambda: self._inner.append(event), attributes=attributes)

    async def query(self, q: AuditQuery) -> AuditPage:
        return await self._observe.call("query", lambda: self._inner.query(q))

    async def verify(self, witnessed: dict[int, ChainHead] | None = None) -> ChainVerification:
        return await self._observe.call("verify", lambda: self._inner.verify(witnessed))

    async def purge_older_than(self, cutoff: datetime) -> int:
        return await self._observe.call("purge_older_than", lambda: self._inner.purge_older_than(cutoff))

    async def last_access(self, subject_user_id: str, keys: Sequence[str]) -> dict[str, datetime]:
        return await self._observe.call("last_access", lambda: self._inner.last_access(subject_user_id, keys))
