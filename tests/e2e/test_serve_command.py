"""`mirage-secrets serve`: several workers whose metrics add up, and no serving an unmigrated database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import create_test_database, drop_test_database
from tests.support.served import serve, served_environment

pytestmark = pytest.mark.e2e

LIST_ROUTE = 'http_requests_total{app_name="mirage-secrets",method="GET",path="/api/v1/secrets",status_code="200"}'


def _count(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+]+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _worker_pids(server_pid: int) -> list[int]:
    """The workers: children of the served process that run the app (not the resource tracker)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    pids = []
    for pid in map(int, children):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"resource_tracker" not in cmdline:
            pids.append(pid)
    return pids


def _multiprocess_dir(pid: int) -> Path:
    """Where a worker writes its samples: the directory of the metric files it has mapped.

    (Its /proc environ would not do: a forked worker shows the environment its parent was
    started with, not the PROMETHEUS_MULTIPROC_DIR that `serve` set before starting it.)"""
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if re.search(rf"/(counter|gauge_\w+|histogram)_{pid}\.db$", path):
            return Path(path).parent
    raise AssertionError(f"worker {pid} maps no metric file: multiprocess mode is off")


def test_metrics_add_up_the_requests_of_both_workers(served_instance):
    workers = _worker_pids(served_instance.process.pid)
    assert len(workers) == 2
    headers = served_instance.headers("metrics_user")
    before = _count(httpx.get(f"{served_instance.url}/metrics", timeout=10).text, LIST_ROUTE)
    requests = 60
    # A new connection each time: the kernel spreads accepted connections over the two workers.
    for _ in range(requests):
        assert httpx.get(f"{served_instance.url}/api/v1/secrets", headers=headers, timeout=10).status_code == 200
    after = _count(httpx.get(f"{served_instance.url}/metrics", timeout=10).text, LIST_ROUTE)
    directory = _multiprocess_dir(workers[0])
    assert _multiprocess_dir(workers[1]) == directory

    assert after - before == requests  # every request counted, whichever worker served it or the scrape
    counted_by = {int(m.group(1)) for f in directory.glob("counter_*.db") if (m := re.search(r"_(\d+)\.db$", f.name))}
    assert set(workers) <= counted_by, (workers, counted_by)


@pytest.fixture
def unmigrated_url(pg_admin_url):
    url = create_test_database(pg_admin_url)
    yield url
    drop_test_database(pg_admin_url, url)


def _serve_env(openbao, url: str, signing_keys) -> dict[str, str]:
    from tests.support.openbao import free_port

    return {
        **os.environ,
        **served_environment(
            vault_addr=openbao.addr,
            vault_token=openbao.root_token,
            database_url=url,
            public_key_file=signing_keys[1],
            port=free_port(),
        ),
    }


def test_serve_on_an_unmigrated_database_exits_at_once_naming_db_upgrade(openbao, unmigrated_url, signing_keys):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mirage-secrets"), "serve", "--workers", "1"],
        env=_serve_env(openbao, unmigrated_url, signing_keys),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "mirage-secrets db upgrade" in lines[0], done.stderr


def test_serve_migrate_upgrades_first_and_then_serves(openbao, unmigrated_url, signing_keys, tmp_path):
    from adapters.db.migrate import is_up_to_date

    assert not is_up_to_date(unmigrated_url)
    with serve(
        vault_addr=openbao.addr,
        vault_token=openbao.root_token,
        database_url=unmigrated_url,
        signing_keys=signing_keys,
        log_dir=tmp_path,
        workers=1,
        extra_env={},
        extra_args=["--migrate"],
    ) as instance:
        headers = instance.headers("migrated_user")
        created = httpx.post(f"{instance.url}/api/v1/secrets", json={"key": "k", "value": "v"}, headers=headers)
        assert created.status_code == 201, created.text
    assert is_up_to_date(unmigrated_url)
