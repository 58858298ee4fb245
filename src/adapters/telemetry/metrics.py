"""Prometheus metrics, exported at ``GET /metrics``.

Request metrics
---------------
Litestar's own `PrometheusConfig` middleware (`request_metrics_config()`), with ``group_path=True``:
it runs after routing, so its ``path`` label is the route *template*
(``/api/v1/secrets/{key:str}``), never the raw path - no key names, no user ids in labels, and
bounded cardinality. It is maintained upstream, writes to the default registry and declares its
in-progress gauge for multiprocess mode. Requests that match no route (404/405 from the router)
never reach route middleware, so they are not counted there; that is what keeps scanners from
inflating the label set. Series: ``http_requests_total``, ``http_request_duration_seconds``,
``http_requests_in_progress``, ``http_requests_error_total`` (5xx), labels
``method, path, status_code, app_name``.

Port metrics (recorded by the traced wrappers in `adapters.telemetry.tracing`)
------------------------------------------------------------------------------
- ``vault_call_seconds{operation,outcome}`` histogram, ``vault_errors_total{operation,error}``
- ``cache_requests_total{result="hit"|"miss"}``: hit ratio =
  ``rate(cache_requests_total{result="hit"}[5m]) / rate(cache_requests_total[5m])``
- ``port_call_seconds{port,operation,outcome}`` for the cache, the index, the audit log, providers
- ``circuit_breaker_state{name}`` gauge: 0 closed, 1 half-open, 2 open
- ``vault_sealed`` / ``vault_reachable`` gauges (`observe_vault_health`)
- ``auth_failures_total{reason}`` (`record_auth_failure`), reasons from a fixed list
- ``audit_append_seconds{outcome}`` histogram (`TimedAuditLog` or `observe_audit_append`)

Label values are operation names, exception class names, a fixed set of reasons and breaker
names: never a value, a token, a key name or a user id.

Several workers (multiprocess mode)
-----------------------------------
With ``uvicorn --workers N`` every worker has its own memory, so a scrape would only see the
worker that answered. Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory in the
environment *before the server starts* (from the shell/unit file, not from Python: prometheus_client
reads it at import time in every worker) and wipe it at each start. Each worker then writes its
samples to files there and ``/metrics`` (built with `metrics_handler`, given the directory by the settings)
aggregates them with `MultiProcessCollector`. Gauges declare how to aggregate: breaker state and
seal state take the worst value among live workers (``livemax``), reachability the lowest
(``livemin``). Uvicorn has no ``child_exit`` hook: a dead worker's ``live*`` gauge files stay until
the directory is wiped (call ``prometheus_client.multiprocess.mark_process_dead(pid)`` where a
supervisor knows a worker died, e.g. gunicorn's ``child_exit``). Custom collectors and exemplars
do not work in that mode, which is why the breaker state is a plain gauge refreshed on every
Vault call and on every scrape rather than a callback collector.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import Receive, Scope, Send
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

__all__ = [
    "AUTH_FAILURE_REASONS",
    "BREAKER_STATES",
    "TelemetryMetrics",
    "bound",
    "get_metrics",
    "metrics_handler",
    "observe_audit_append",
    "observe_vault_health",
    "record_auth_failure",
    "refresh_circuit_breakers",
    "request_metrics_config",
    "set_circuit_breaker_state",
    "track_circuit_breaker",
]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BREAKER_STATES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
AUTH_FAILURE_REASONS = frozenset(
    {
        "missing_token",
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_issuer",
        "unknown_key",
        "invalid_token",
        "invalid_subject",
        "vault_login",
        "other",
    }
)


@dataclass(frozen=True)
class TelemetryMetrics:
    vault_call_seconds: Histogram
    vault_errors_total: Counter
    cache_requests_total: Counter
    port_call_seconds: Histogram
    circuit_breaker_state: Gauge
    vault_sealed: Gauge
    vault_reachable: Gauge
    auth_failures_total: Counter
    audit_append_seconds: Histogram
    secrets_expiring: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = REGISTRY) -> TelemetryMetrics:
        return cls(
            vault_call_seconds=Histogram(
                "vault_call_seconds",
                "Latency of calls to Vault through the SecretVault port.",
                ["operation", "outcome"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            vault_errors_total=Counter(
                "vault_errors_total",
                "Vault calls that raised, by operation and error class.",
                ["operation", "error"],
                registry=registry,
            ),
            cache_requests_total=Counter(
                "cache_requests_total", "Secret cache lookups by result.", ["result"], registry=registry
            ),
            port_call_seconds=Histogram(
                "port_call_seconds",
                "Latency of port calls other than Vault (cache, index, audit, providers).",
                ["port", "operation", "outcome"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            circuit_breaker_state=Gauge(
                "circuit_breaker_state",
                "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                ["name"],
                multiprocess_mode="livemax",
                registry=registry,
            ),
            vault_sealed=Gauge(
                "vault_sealed",
                "1 when Vault reported itself sealed (or uninitialised) at the last health check.",
                multiprocess_mode="livemax",
                registry=registry,
            ),
            vault_reachable=Gauge(
                "vault_reachable",
                "1 when Vault answered the last health check.",
                multiprocess_mode="livemin",
                registry=registry,
            ),
            auth_failures_total=Counter(
                "auth_failures_total",
                "Requests refused as not authenticated (401), by reason.",
                ["reason"],
                registry=registry,
            ),
            audit_append_seconds=Histogram(
                "audit_append_seconds",
                "Latency of appending one audit event (durable write included).",
                ["outcome"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            # No user label: a count across everyone, set by the cleanup pass.
            secrets_expiring=Gauge(
                "secrets_expiring_within_7_days",
                "Live secrets whose TTL or provider expiry falls within the next 7 days (last cleanup pass).",
                multiprocess_mode="livemax",
                registry=registry,
            ),
        )


_metrics: TelemetryMetrics | None = None
_metrics_lock = threading.Lock()


_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def bound(metric: Any, *label_values: str) -> Any:
    """`metric.labels(*label_values)`, bound once and then reused: the hot path pays a dict lookup
    instead of prometheus_client's label validation and child lookup under a lock on every call.

    The label sets are bounded (operation names, outcomes, exception class names), so is this."""
    key = (metric, label_values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*label_values)
    return child


def get_metrics() -> TelemetryMetrics:
    """The process-wide metrics on the default registry (created on first use, not at import)."""
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = TelemetryMetrics.create()
    return _metrics


# -- circuit breakers ----------------------------------------------------------------------------

_breakers: dict[str, Callable[[], Any]] = {}
# The value last written per (gauge, breaker): refreshing runs after every Vault call, and an
# unchanged state needs no write (in multiprocess mode each write goes to the worker's mmap file).
_breaker_written: dict[tuple[Any, str], int] = {}


def set_circuit_breaker_state(name: str, state: str | int) -> None:
    """Set ``circuit_breaker_state{name}`` from 'closed' | 'half_open' | 'open' (or 0/1/2)."""
    value = state if isinstance(state, int) else BREAKER_STATES.get(str(state).lower())
    if value is None:
        raise ValueError(f"unknown breaker state {state!r}")
    gauge = get_metrics().circuit_breaker_state
    gauge.labels(name=name).set(value)
    _breaker_written[(gauge, name)] = value


def track_circuit_breaker(breaker: Any, name: str | None = None) -> None:
    """Report `breaker.state` ('closed'/'half_open'/'open') as ``circuit_breaker_state{name}``.

    Works with `adapters.vault.breaker.CircuitBreaker` and with anything exposing ``state``
    (e.g. `ResilientSecretVault`). The state is read at every scrape and after every Vault call
    made through `TracedSecretVault`; the breaker is held weakly.
    """
    label = name or getattr(breaker, "name", None) or "vault"
    try:
        ref: Callable[[], Any] = weakref.ref(breaker)
    except TypeError:
        ref = lambda: breaker  # noqa: E731 - objects without weakref support are held strongly
    _breakers[label] = ref
    refresh_circuit_breakers()


def refresh_circuit_breakers() -> None:
    for label, ref in list(_breakers.items()):
        breaker = ref()
        if breaker is None:
            _breakers.pop(label, None)
            continue
        state = BREAKER_STATES.get(str(getattr(breaker, "state", "")).lower())
        if state is None:
            continue
        gauge = get_metrics().circuit_breaker_state
        if _breaker_written.get((gauge, label)) != state:
            bound(gauge, label).set(state)
            _breaker_written[(gauge, label)] = state


# -- Vault health, auth failures, audit ----------------------------------------------------------


def observe_vault_health(health: Any) -> None:
    """Record a `domain.ports.VaultHealth`. When Vault is unreachable its seal state is unknown:
    ``vault_reachable`` drops to 0 and ``vault_sealed`` keeps its last known value."""
    metrics = get_metrics()
    reachable = bool(getattr(health, "reachable", False))
    metrics.vault_reachable.set(1 if reachable else 0)
    if reachable:
        sealed = bool(getattr(health, "sealed", True)) or not bool(getattr(health, "initialized", False))
        metrics.vault_sealed.set(1 if sealed else 0)


_REASON_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,31}")

# NotAuthenticated carries fixed messages (adapters.identity.jwt_verifier, entrypoints.http.dependencies).
_REASON_BY_MESSAGE = (
    ("send 'authorization", "missing_token"),
    ("has expired", "expired"),
    ("not valid yet", "not_yet_valid"),
    ("issued for another service", "wrong_audience"),
    ("issuer", "wrong_issuer"),
    ("signing key is unknown", "unknown_key"),
    ("malformed", "invalid_token"),
    ("signature", "invalid_token"),
    ("subject", "invalid_subject"),
    ("per-user vault access", "vault_login"),
)


def auth_failure_reason(exc_or_message: Any) -> str:
    """A reason label for a `NotAuthenticated` (or its message), from `AUTH_FAILURE_REASONS`."""
    text = str(exc_or_message).lower()
    for needle, reason in _REASON_BY_MESSAGE:
        if needle in text:
            return reason
    return "other"


def set_secrets_expiring(count: int) -> None:
    get_metrics().secrets_expiring.set(count)


def record_auth_failure(reason: Any = "other") -> None:
    """Count one authentication failure. `reason` is a label from `AUTH_FAILURE_REASONS`, or a
    `NotAuthenticated` exception (classified by `auth_failure_reason`). Anything else becomes
    'other', so a label can never carry a token or any caller-supplied text."""
    if isinstance(reason, BaseException):
        reason = auth_failure_reason(reason)
    label = reason if isinstance(reason, str) and reason in AUTH_FAILURE_REASONS else "other"
    get_metrics().auth_failures_total.labels(reason=label).inc()


def observe_audit_append(seconds: float, outcome: str = "ok") -> None:
    """Record one audit append's latency (for callers that time it themselves)."""
    label = outcome if _REASON_SHAPE.fullmatch(outcome or "") else "other"
    get_metrics().audit_append_seconds.labels(outcome=label).observe(max(seconds, 0.0))


# -- request metrics and the /metrics endpoint ---------------------------------------------------


class BoundPrometheusMiddleware(PrometheusMiddleware):
    """Litestar's request metrics, same series and labels, with the label children bound once per
    (method, route, status) instead of `labels(...)` three or four times on every request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        config = self._config
        if config.excluded_http_methods and request.method in config.excluded_http_methods:
            await self.app(scope, receive, send)
            return
        labels = {**self._get_default_labels(request), **self._get_extra_labels(request)}
        names = list(labels)
        values = [str(value) for value in labels.values()]
        status_at = names.index("status_code")
        request_span = {"start_time": time.perf_counter(), "end_time": 0, "duration": 0, "status_code": 200}
        in_progress = bound(self.requests_in_progress(labels), *values)
        in_progress.inc()
        try:
            await self.app(scope, receive, self._get_wrapped_send(send, request_span))
        finally:
            in_progress.dec()
            status = request_span["status_code"]
            labels["status_code"] = status
            values[status_at] = str(status)
            extra: dict[str, Any] = {}
            if config.exemplars:
                extra["exemplar"] = config.exemplars(request)
            if status >= 500:
                bound(self.requests_error_count(labels), *values).inc(**extra)
            bound(self.request_count(labels), *values).inc(**extra)
            bound(self.request_time(labels), *values).observe(request_span["duration"], **extra)


def request_metrics_config(*, app_name: str = "mirage-secrets", exclude: list[str] | None = None) -> PrometheusConfig:
    """Litestar's Prometheus middleware config; pass ``.middleware`` in the app's ``middleware=``."""
    return PrometheusConfig(
        middleware_class=BoundPrometheusMiddleware,
        app_name=app_name,
        prefix="http",
        group_path=True,  # the route template, never the raw path
        exclude=exclude if exclude is not None else ["^/metrics$", "^/healthz$"],
        buckets=list(LATENCY_BUCKETS),
    )


def metrics_registry(multiprocess_dir: str | None) -> CollectorRegistry:
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        return registry
    return REGISTRY


def metrics_handler(
    *, path: str = "/metrics", multiprocess_dir: str | None = None, opt: dict[str, Any] | None = None
) -> HTTPRouteHandler:
    """A fresh ``GET /metrics`` route handler (one per app) exporting the default registry, or the
    aggregate of every worker's files when multiprocess mode is on.

    `multiprocess_dir`: the directory every worker writes its samples to (the entrypoint's
    ``PROMETHEUS_MULTIPROC_DIR`` setting), or None for a single process.
    `opt` is passed to the route (e.g. ``{"exclude_from_auth": True}``).
    Content negotiation follows the scraper's ``Accept`` header (Prometheus text or OpenMetrics).
    """
    directory = multiprocess_dir or None

    @get(path, include_in_schema=False, sync_to_thread=False, opt=opt or {}, name=f"metrics:{path}")
    def metrics_endpoint(request: Request) -> Response[bytes]:
        get_metrics()  # declare the series even before the first call, so dashboards see zeros
        refresh_circuit_breakers()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = encoder(metrics_registry(directory))
        return Response(content=body, media_type=content_type, status_code=200)

    return metrics_endpoint


def metrics_controller(**kwargs: Any) -> HTTPRouteHandler:
    """Alias of `metrics_handler` (the brief's name)."""
    return metrics_handler(**kwargs)
