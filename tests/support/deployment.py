"""The deployment files (infra/) as the tests read them, and the OpenBao metrics they name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def _plain(value: Any) -> Any:
    """python-hcl2 keeps string quotes and adds block markers: strip both."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def hcl(path: Path) -> dict[str, Any]:
    return _plain(hcl2.loads(path.read_text()))


# OpenBao's telemetry, as /v1/sys/metrics?format=prometheus names them with disable_hostname = true.
OPENBAO_METRICS = {
    "vault_core_active",
    "vault_core_unsealed",
    "vault_raft_state_leader",
    "vault_autopilot_healthy",
    "vault_autopilot_failure_tolerance",
    "vault_audit_log_request_failure",
    "vault_raft_commitTime",
}
