"""Schemathesis with every check over the served instance's own `/schema/openapi.json`.

A bounded pass with a fixed seed runs in every `make test`; `make fuzz` runs the same with a larger
budget (FUZZ_MAX_EXAMPLES, FUZZ_SEED). The instance runs on the session's real OpenBao and
PostgreSQL, with the local Railway/GitHub wire fakes as its providers, and the calls carry a valid
bearer token so that they reach the handlers rather than stopping at 401.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.served import serve_with_provider_fakes

pytestmark = pytest.mark.e2e

CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
SEED = int(os.environ.get("FUZZ_SEED", "20261204"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
MIN_CALLS = int(os.environ.get("FUZZ_MIN_CALLS", "1000"))


@pytest.fixture(scope="module")
def fuzz_instance(openbao, pg_url, signing_keys, tmp_path_factory):
    with serve_with_provider_fakes(
        openbao=openbao,
        database_url=pg_url,
        signing_keys=signing_keys,
        log_dir=tmp_path_factory.mktemp("fuzz"),
        extra_env={
            # The fuzzer calls the provider routes far more often than a person would.
            "RATE_LIMIT_PROVIDER_CALLS": "100000/minute",
            "RATE_LIMIT_FAILED_AUTH": "100000/minute",
        },
    ) as (instance, _railway, _github):
        yield instance


def run_schemathesis(instance, report_dir: Path, *, max_examples: int, seed: int) -> dict:
    """One schemathesis run; returns its JSON report (calls made, failures by check)."""
    token = instance.token("fuzz-user")
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(CONFIG_FILE),
        "run",
        f"{instance.url}/schema/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        # One worker: CPython 3.11's AST constructor is not thread-safe, and hypothesis parses
        # lambdas' source while describing strategies ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-shrink",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "ndjson",
        "--report-dir",
        str(report_dir),
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    (report_dir / "stdout.txt").write_text(done.stdout + done.stderr)
    return summarise(report_dir, done)


def summarise(report_dir: Path, done: subprocess.CompletedProcess) -> dict:
    """The figures of schemathesis' closing summary: test cases generated, failures by check."""
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    failures = {
        f"{code} {name.strip()}": int(count) for code, name, count in re.findall(r"❌ (ST\d+) ([^:\n]+): (\d+)", output)
    }
    errors = {name.strip(): int(count) for name, count in re.findall(r"🚫 ([^:\n]+): (\d+)", output)}
    return {
        "calls": int(generated.group(1)) if generated else 0,
        "server_errors": failures.get("ST101 Server error", 0),
        "failures": failures,
        "errors": errors,
        "exit_code": done.returncode,
        "output_tail": output[-8000:],
    }


def test_schemathesis_finds_no_server_error_and_no_check_failure(fuzz_instance, tmp_path):
    report = run_schemathesis(fuzz_instance, tmp_path, max_examples=MAX_EXAMPLES, seed=SEED)
    print(json.dumps({k: v for k, v in report.items() if k != "output_tail"}))
    assert report["calls"] >= MIN_CALLS, report["output_tail"]
    assert report["server_errors"] == 0, report["output_tail"]
    assert report["failures"] == {}, report["output_tail"]
    assert report["errors"] == {}, report["output_tail"]
    assert report["exit_code"] == 0, report["output_tail"]
