"""A frozen OpenBao (SIGSTOP: connections open, nothing answers) costs a request one time budget.

Before, every retry got the full VAULT_TIMEOUT_SECONDS, so an uncached read or a write hung about
twice that. Now one deadline covers the retries: the answer is a 503 with Retry-After, and it
comes within the budget plus slack. The bound asserted is deliberately generous (2x the budget):
the figure itself is printed, speed is the benchmarks' business.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import hvac
import pytest

from adapters.vault.bootstrap import bootstrap_vault
from tests.support.openbao import DevOpenBao, start_dev_openbao
from tests.support.served import serve

pytestmark = pytest.mark.e2e

MOUNT = "mirage"
BUDGET_SECONDS = 2


@pytest.fixture
def throwaway_bao() -> Iterator[DevOpenBao]:
    server = start_dev_openbao()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        bootstrap_vault(client, MOUNT, jwt=None, user_auth="token")
        client.adapter.close()
        yield server
    finally:
        os.kill(server.process.pid, signal.SIGCONT)  # a stopped process can't handle SIGTERM
        server.stop()


def test_a_frozen_vault_gets_one_budget_per_request_then_a_503_with_retry_after(
    throwaway_bao, pg_url, signing_keys, tmp_path
) -> None:
    extra = {"CACHE_TTL_SECONDS": "0", "VAULT_TIMEOUT_SECONDS": str(BUDGET_SECONDS), "VAULT_RETRY_ATTEMPTS": "3"}
    with serve(
        vault_addr=throwaway_bao.addr,
        vault_token=throwaway_bao.root_token,
        database_url=pg_url,
        signing_keys=signing_keys,
        log_dir=tmp_path,
        workers=1,
        extra_env=extra,
    ) as instance:
        headers = instance.headers("frozen_user")
        with httpx.Client(base_url=instance.url, headers=headers, timeout=30.0) as client:
            assert client.post("/api/v1/secrets", json={"key": "cold", "value": "v-1"}).status_code == 201
            assert client.get("/api/v1/secrets/cold").json()["value"] == "v-1"

            os.kill(throwaway_bao.process.pid, signal.SIGSTOP)
            timings: dict[str, float] = {}
            for name, call in {
                "uncached read": lambda: client.get("/api/v1/secrets/cold"),
                "write": lambda: client.post("/api/v1/secrets", json={"key": "cold2", "value": "v-2"}),
            }.items():
                started = time.monotonic()
                answer = call()
                timings[name] = time.monotonic() - started
                assert answer.status_code == 503, (name, answer.status_code, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert int(answer.headers["retry-after"]) >= 1
                assert "v-1" not in answer.text and "v-2" not in answer.text
            print(
                f"frozen OpenBao, budget {BUDGET_SECONDS}s: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
            )
            assert all(seconds < 2 * BUDGET_SECONDS for seconds in timings.values()), timings

            os.kill(throwaway_bao.process.pid, signal.SIGCONT)
            # Back: the breaker lets a probe through after its cool-down; poll with a deadline.
            deadline = time.monotonic() + 30
            while True:
                answer = client.get("/api/v1/secrets/cold")
                if answer.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert answer.status_code == 200 and answer.json()["value"] == "v-1"
