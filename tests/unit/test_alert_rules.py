"""infra/prometheus/alerts.yml and the Grafana dashboard only name metrics that are exported: the
service's (src/adapters/telemetry/metrics.py), OpenBao's (names measured on OpenBao 2.7.2, checked
live by tests/integration/test_openbao_telemetry.py) and the backup textfile's. promtool checks
the rules and runs their unit tests (infra/prometheus/alerts.test.yml)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from adapters.backups.files import TextfileBackupMetrics
from adapters.telemetry.metrics import TelemetryMetrics
from domain.backups import Inventory, Manifest
from tests.support.deployment import OPENBAO_METRICS

pytestmark = pytest.mark.unit


ROOT = Path(__file__).parents[2]
RULES = ROOT / "infra" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "infra" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "infra" / "grafana" / "mirage-secrets-dashboard.json"
# Litestar's request metrics (prefix "http", see `request_metrics_config`).
REQUEST_METRICS = {"http_requests_total", "http_request_duration_seconds_bucket", "http_requests_error_total"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
PROMQL_WORDS = {"le", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}


def exported_series(tmp_path: Path) -> set[str]:
    registry = CollectorRegistry()
    TelemetryMetrics.create(registry)
    names = set(REQUEST_METRICS) | OPENBAO_METRICS
    for family in registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    textfile = tmp_path / "backup.prom"
    manifest = Manifest(
        created_at=datetime.now(UTC), vault_version="2.7.2", mount="mirage", key_shares=5, key_threshold=3,
        inventory=Inventory(secrets=1, versions=1), files={}, database="postgresql",
    )  # fmt: skip
    TextfileBackupMetrics(textfile).record_success(manifest)
    names.update(line.split()[0] for line in textfile.read_text().splitlines() if not line.startswith("#"))
    return names


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values and strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    names = set(re.findall(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()", expr))
    return names - PROMQL_WORDS


def test_every_alert_uses_exported_metrics_and_has_a_runbook(tmp_path):
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    exported = exported_series(tmp_path)
    runbook = (ROOT / "docs" / "operations.md").read_text()
    assert {r["alert"] for r in rules} >= {
        "VaultSealed",
        "VaultUnreachable",
        "VaultCircuitBreakerOpen",
        "AuthenticationFailureBurst",
        "AuditAppendLatencyHigh",
        "AuditAppendFailing",
        "HighServerErrorRate",
        "VaultNoActiveNode",
        "VaultLeaderChanges",
        "VaultAuditDeviceFailing",
        "BackupTooOld",
    }
    for rule in rules:
        used = metric_names(rule["expr"])
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert f"### {rule['alert']}\n" in runbook, rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_every_alert_has_a_promtool_unit_test_or_is_listed_as_untested():
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    rules = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    untested = {"VaultSealStateChanged", "VaultUnreachable", "AuditAppendLatencyHigh", "HighServerErrorRate",
                "VaultNodeSealed", "VaultAutopilotUnhealthy"}  # fmt: skip
    assert rules - tested == untested


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is missing: `make test` installs Debian's prometheus package (infra/scripts/ensure-services.sh)"
        )
    return found


def test_promtool_checks_the_rules():
    result = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass_and_would_catch_a_wrong_threshold(tmp_path):
    result = subprocess.run([_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same tests against rules whose backup threshold is wrong must fail.
    shutil.copy(RULE_TESTS, tmp_path / "alerts.test.yml")
    (tmp_path / "alerts.yml").write_text(RULES.read_text().replace("> 26 * 3600", "> 28 * 3600"))
    broken = subprocess.run(
        [_promtool(), "test", "rules", str(tmp_path / "alerts.test.yml")], capture_output=True, text=True
    )
    assert broken.returncode != 0 and "BackupTooOld" in broken.stdout + broken.stderr


def test_the_dashboard_is_valid_json_over_exported_metrics(tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series(tmp_path)
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10 and dashboard["uid"] == "mirage-secrets"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for expr in exprs:
        used = metric_names(expr)
        assert used and used <= exported, (expr, used - exported)
    everything = " ".join(exprs)
    for needed in ("vault_core_active", "mirage_backup_last_success_timestamp_seconds", "auth_failures_total"):
        assert needed in everything
