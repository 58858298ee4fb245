"""The OpenBao metric names the alerts and the dashboard use are what a real OpenBao exports,
with the telemetry block of infra/openbao/production.hcl."""

from __future__ import annotations

import time

import httpx
import pytest

from adapters.vault.operations import VaultOperations
from adapters.vault.raft_server import BaoServer
from tests.support.deployment import OPENBAO_METRICS

pytestmark = pytest.mark.integration

TELEMETRY = """
telemetry {
  prometheus_retention_time = "24h"
  disable_hostname          = true
}
"""


def test_openbao_exports_every_metric_the_alerts_and_dashboard_name(tmp_path):
    server = BaoServer(tmp_path, node_id="telemetry", extra_config=TELEMETRY).start()
    try:
        with VaultOperations(server.addr) as ops:
            init = ops.init(shares=1, threshold=1)
            ops.unseal_with(list(init.shares))
            ops.wait_active()
        found: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not found >= OPENBAO_METRICS:
            text = httpx.get(
                f"{server.addr}/v1/sys/metrics",
                params={"format": "prometheus"},
                headers={"X-Vault-Token": init.root_token},
                timeout=5,
                trust_env=False,
            ).text
            found = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
            time.sleep(0.5)
        assert found >= OPENBAO_METRICS, OPENBAO_METRICS - found
    finally:
        server.stop()
