"""The lifecycle over real HTTP against served instances: two instances (two workers each) run the
cleanup pass on one database without doing any secret twice; `mirage-secrets run` hands an
environment's variables to a child process, forwards SIGTERM and returns the child's status."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from adapters.db.migrate import upgrade
from tests.support.postgres import create_test_database, drop_test_database
from tests.support.served import serve

pytestmark = pytest.mark.api

MIRAGE = str(Path(sys.executable).parent / "mirage-secrets")
DEADLINE_SECONDS = 60


def wait_for(check, *, deadline: float = DEADLINE_SECONDS):
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail("condition not met before the deadline")
        time.sleep(0.3)


@pytest.fixture
def lifecycle_database(pg_admin_url):
    url = create_test_database(pg_admin_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_test_database(pg_admin_url, url)


def audit(instance, user, action) -> list[dict]:
    answer = httpx.get(
        f"{instance.url}/api/v1/secrets/audit",
        params={"action": action, "limit": 500},
        headers=instance.headers(user),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["logs"]


def test_two_instances_expire_and_destroy_each_secret_once(openbao, lifecycle_database, signing_keys, tmp_path_factory):
    lifecycle = {"SECRET_CLEANUP_INTERVAL_SECONDS": "1", "SECRET_RECOVERY_DAYS": "0"}
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(
                serve(
                    vault_addr=openbao.addr,
                    vault_token=openbao.root_token,
                    database_url=lifecycle_database,
                    signing_keys=signing_keys,
                    log_dir=tmp_path_factory.mktemp("lifecycle"),
                    extra_env=lifecycle,
                )
            )
            for _ in range(2)
        )
        user = f"user_{os.urandom(6).hex()}"
        keys = [f"temp-{n}" for n in range(8)]
        for key in keys:
            answer = httpx.post(
                f"{first.url}/api/v1/secrets",
                json={"key": key, "value": f"value-{key}", "ttl": 1},
                headers=first.headers(user),
                timeout=10,
            )
            assert answer.status_code == 201, answer.text

        wait_for(lambda: len(audit(second, user, "destroy")) >= len(keys))
        time.sleep(2)  # a few more passes on both instances: none may touch these secrets again
        for action in ("expire", "destroy"):
            events = audit(first, user, action)
            assert Counter(e["secret"] for e in events) == Counter(keys), action
            assert {e["actor"] for e in events} == {"system"}
        for key in keys:
            gone = httpx.get(f"{second.url}/api/v1/secrets/{key}/versions", headers=second.headers(user), timeout=10)
            assert gone.status_code == 404


HASH_CHILD = (
    "import hashlib, os, sys;"
    "names = sorted(k for k in os.environ if k.startswith('LC_'));"
    "print(hashlib.sha256(repr([(k, os.environ[k]) for k in names]).encode()).hexdigest());"
    "print('token inherited' if 'MIRAGE_TOKEN' in os.environ else 'no token');"
    "sys.exit(3)"
)

SIGTERM_CHILD = (
    "import signal, sys, time;"
    "signal.signal(signal.SIGTERM, lambda *_: (print('got SIGTERM', flush=True), sys.exit(42)));"
    "print('ready', flush=True);"
    "time.sleep(60);"
    "sys.exit(0)"
)


@pytest.fixture
def environment(served_instance):
    user = f"user_{os.urandom(6).hex()}"
    variables = {"LC_DATABASE_URL": "postgres://u:p@h/db", "LC_API_KEY": "k-3b1f\nsecond line", "LC_EMPTYISH": " x "}
    answer = httpx.post(
        f"{served_instance.url}/api/v1/environments/dev/secrets/bulk",
        json={"secrets": variables},
        headers=served_instance.headers(user),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    env = {**os.environ, "MIRAGE_URL": served_instance.url, "MIRAGE_TOKEN": served_instance.token(user)}
    return user, variables, env


def test_run_passes_the_variables_and_returns_the_childs_status(served_instance, environment):
    user, variables, env = environment
    done = subprocess.run(
        [MIRAGE, "run", "--env", "dev", "--", sys.executable, "-c", HASH_CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    expected = hashlib.sha256(repr(sorted(variables.items())).encode()).hexdigest()
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [expected, "no token"]
    for value in variables.values():
        assert value not in done.stderr
    exports = audit(served_instance, user, "export")
    assert [(e["secret"], e["reason"]) for e in exports] == [("env_vars/dev", "purpose run")]


def test_run_forwards_sigterm_to_the_child(environment):
    _, _, env = environment
    with subprocess.Popen(
        [MIRAGE, "run", "--env", "dev", "--", sys.executable, "-c", SIGTERM_CHILD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as runner:
        try:
            assert runner.stdout.readline().strip() == "ready"
            runner.send_signal(signal.SIGTERM)
            assert runner.wait(timeout=30) == 42
            assert runner.stdout.read().strip() == "got SIGTERM"
        finally:
            if runner.poll() is None:
                runner.kill()


def test_run_refuses_without_a_token_and_env_export_masks(served_instance, environment):
    user, variables, env = environment
    no_token = {k: v for k, v in env.items() if k != "MIRAGE_TOKEN"}
    refused = subprocess.run(
        [MIRAGE, "run", "--env", "dev", "--", "true"], env=no_token, capture_output=True, text=True
    )
    assert refused.returncode == 1 and "MIRAGE_TOKEN" in refused.stderr
    masked = subprocess.run([MIRAGE, "env", "export", "--env", "dev"], env=env, capture_output=True, text=True)
    assert masked.returncode == 0, masked.stderr
    assert masked.stdout.splitlines() == [f'{k}="********"' for k in sorted(variables)]
    revealed = subprocess.run(
        [MIRAGE, "env", "export", "--env", "dev", "--format", "json", "--reveal"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert json.loads(revealed.stdout) == variables
    assert [e["reason"] for e in audit(served_instance, user, "export")] == ["purpose export"]
