"""infra/prometheus/alerts.yml only names metrics the service exports (src/adapters/telemetry/metrics.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from adapters.telemetry.metrics import TelemetryMetrics

pytestmark = pytest.mark.unit


RULES = Path(__file__).parents[2] / "infra" / "prometheus" / "alerts.yml"
# Litestar's request metrics (prefix "http", see `request_metrics_config`).
REQUEST_METRICS = {"http_requests_total", "http_request_duration_seconds_bucket", "http_requests_error_total"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_series() -> set[str]:
    registry = CollectorRegistry()
    TelemetryMetrics.create(registry)
    names = set(REQUEST_METRICS)
    for family in registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    return set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", expr))


def test_every_alert_uses_exported_metrics_and_has_a_runbook():
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    exported = exported_series()
    runbook = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    assert {r["alert"] for r in rules} >= {
        "VaultSealed",
        "VaultUnreachable",
        "VaultCircuitBreakerOpen",
        "AuthenticationFailureBurst",
        "AuditAppendLatencyHigh",
        "HighServerErrorRate",
    }
    for rule in rules:
        used = metric_names(rule["expr"])
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert f"### {rule['alert']}\n" in runbook, rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
