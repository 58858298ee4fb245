"""Load benchmark: raw OpenBao KV v2 reads versus the service's read path (warm cache, cache off, mix).

One command (`make bench`, or `.venv/bin/python bench/run.py --quick` for a smoke check):

1. makes sure `wrk` exists (the Python HTTP clients saturate around 0.6 k req/s on 2 cores and
   would measure themselves, see ../shared/design/PERFORMANCE.md);
2. starts a throwaway in-memory OpenBao dev server with Prometheus telemetry and a file audit
   device (what production runs), mounts KV v2 `mirage`, creates and migrates a throwaway
   PostgreSQL database on 127.0.0.1:5432 (or `--database-url`; `--sqlite` for a temp file),
   makes dev signing keys;
3. starts `mirage-secrets serve --workers N`, seeds secrets through the HTTP API;
4. runs wrk with identical settings for each scenario, each one right after a raw OpenBao run so
   that the ratio compares two measurements taken under the same machine conditions;
5. reads each worker's RSS after the runs, prints a markdown table (req/s, p50, p99, ratio, Vault
   calls saved, RSS per worker, machine load) and writes it to bench/results/latest.md.

Everything it starts (OpenBao, the service and its workers) runs in its own process group and is
stopped on exit, including on Ctrl+C and on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
RESULTS = REPO / "bench" / "results" / "latest.md"
MIX_SCRIPT = REPO / "bench" / "lua" / "mix.lua"

# The project's packages live under src/ (installed editable in the venv; this makes a plain
# checkout work too).
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(1, str(REPO))  # tests.support: the one free_port and process-group shutdown

import httpx  # noqa: E402  (after the sys.path tweak on purpose)

from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import stop_process_group  # noqa: E402

WRK_THREADS, WRK_CONNECTIONS = 2, 32  # the settings PERFORMANCE.md's figures were taken with
MOUNT = "mirage"
# A database number of its own. Nothing is flushed (Redis is shared): entry names are keyed with a
# data key that the run's fresh OpenBao makes, so no earlier run's entry can ever be read.
REDIS_BENCH_URL = "redis://127.0.0.1:6379/14"
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SEED_USERS, SEED_KEYS = 50, 20
MANY_USERS = 200  # the "200 users, each reading their own key" scenario
USERS_SCRIPT = REPO / "bench" / "lua" / "users.lua"
MIX_OPS, MIX_WRITE_SHARE, ZIPF_S = 20_000, 0.10, 1.1
START_TIMEOUT_S = 60.0


# -- results ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """What one wrk run reported."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)  # only from the Lua mix script
    raw_output: str = field(default="", repr=False)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass
class ScenarioResult:
    """One row of the table: a scenario, the raw OpenBao run made right before it, Vault reads."""

    label: str
    result: WrkResult
    baseline: WrkResult | None  # None for the raw OpenBao row itself
    vault_reads: int | None = None  # KV reads on the mount during the measured run (None: n/a)

    @property
    def ratio(self) -> float | None:
        return self.result.rps / self.baseline.rps if self.baseline else None

    @property
    def vault_reads_per_request(self) -> float | None:
        if self.vault_reads is None or not self.result.requests:
            return None
        return self.vault_reads / self.result.requests


# -- wrk ----------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it from Debian (apt-get install wrk) ...", flush=True)
    if os.geteuid() != 0:
        sys.exit("bench: wrk is missing and installing it needs root: run 'sudo apt-get install wrk'")
    try:
        subprocess.run("apt-get update -qq && apt-get install -y -qq wrk", shell=True, check=True)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"bench: could not install wrk (apt-get exited with {exc.returncode}); install it by hand")
    found = shutil.which("wrk")
    if not found:
        sys.exit("bench: apt-get reported success but wrk is still not on PATH")
    return found


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise RuntimeError(f"unexpected wrk output (no match for {pattern!r}):\n{output}")
        return match

    total = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    statuses = re.search(r"^BENCH_STATUS(.*)$", output, re.MULTILINE)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        statuses={int(code): int(count) for code, count in (part.split("=") for part in statuses.group(1).split())}
        if statuses
        else {},
        raw_output=output,
    )


def run_wrk(
    url: str,
    duration: float,
    *,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> WrkResult:
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration:g}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Child:
    """A process started in its own session, so that stopping it reaches its children too."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process_group(self.process, grace_seconds=15)


def start_child(name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Child:
    with log_path.open("wb") as log:  # a file, not a pipe: nobody reads it while wrk runs
        process = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name, process, log_path)


def wait_until(child: Child, url: str, *, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url, headers=headers).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} not ready at {url} after {START_TIMEOUT_S:.0f}s:\n{child.log_tail()}")
            time.sleep(0.2)


def keep_service_log(child: Child, name: str) -> None:
    """Save what the service logged besides its per-request access lines (warnings, tracebacks)."""
    if not child.log_path.exists():
        return
    with child.log_path.open(errors="replace") as log:
        kept = [line for line in log if '" 20' not in line or "HTTP/1.1" not in line]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    (RESULTS.parent / f"{name}.log").write_text("".join(kept))


@dataclass
class OpenBao:
    addr: str
    token: str
    child: Child


def start_openbao(workdir: Path) -> OpenBao:
    """An in-memory dev server, like tests/support/openbao.py, plus a telemetry stanza.

    `-dev` alone serves /v1/sys/metrics only in JSON from 10 s in-memory intervals; Prometheus
    format (cumulative counters, easy to diff around one run) needs `prometheus_retention_time`,
    and `-dev` accepts an extra `-config` file to add it.
    """
    from adapters.vault.embedded import find_bao_binary

    config = workdir / "bao-telemetry.hcl"
    # Production runs Vault with a file audit device (the spec requires it; OpenBao only takes it
    # from config): every request, the raw ones and the service's, is written to it.
    config.write_text(
        'telemetry {\n  prometheus_retention_time = "1h"\n  disable_hostname = true\n}\n'
        f'audit "file" "file" {{\n  options {{\n    file_path = "{workdir / "openbao-audit.log"}"\n'
        '    format    = "json"\n    mode      = "0600"\n  }\n}\n'
    )
    port = free_port(consecutive=2)
    token = f"bench-{secrets.token_hex(12)}"
    child = start_child(
        "OpenBao",
        [
            find_bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-config={config}",
        ],
        {**os.environ, "BAO_ADDR": "", "VAULT_ADDR": ""},
        workdir / "openbao.log",
    )
    bao = OpenBao(addr=f"http://127.0.0.1:{port}", token=token, child=child)
    try:
        wait_until(child, f"{bao.addr}/v1/sys/health")
    except BaseException:
        child.stop()
        raise
    return bao


def vault_kv_reads(bao: OpenBao) -> int | None:
    """Cumulative count of read requests on the KV mount (data and metadata), or None if n/a."""
    try:
        response = httpx.get(
            f"{bao.addr}/v1/sys/metrics",
            params={"format": "prometheus"},
            headers={"X-Vault-Token": bao.token},
            timeout=5.0,
            trust_env=False,
        )
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    match = re.search(rf"^vault_route_read_{MOUNT}__count (\d+)", response.text, re.MULTILINE)
    return int(match.group(1)) if match else 0  # no line yet: nothing has been read so far


@dataclass
class Service:
    base: str
    child: Child


def start_service(
    stack: Stack, *, workers: int, cache_ttl: int | None, redis_url: str | None, user_auth: str = "token"
) -> Service:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # Anything that would make the service read other settings than the ones below.
        if not key.startswith(("VAULT_", "AUTH_", "CACHE_", "REDIS_", "DATABASE_"))
        and key not in {"HOST", "PORT", "WEB_CONCURRENCY"}
    }
    env.update(
        VAULT_ADDR=stack.bao.addr,
        VAULT_TOKEN=stack.bao.token,
        VAULT_MOUNT=MOUNT,
        DATABASE_URL=stack.database_url,
        AUTH_PUBLIC_KEY_FILE=str(stack.public_key),
        AUTH_ISSUER=stack.issuer,
        AUTH_AUDIENCE=stack.audience,
        HOST="127.0.0.1",
        PORT=str(port),
        VAULT_USER_AUTH=user_auth,
    )
    if cache_ttl is not None:
        env["CACHE_TTL_SECONDS"] = str(cache_ttl)
    if redis_url:
        env["REDIS_URL"] = redis_url
    name = f"mirage-secrets (cache ttl {'default' if cache_ttl is None else cache_ttl})"
    child = start_child(
        name,
        [str(VENV_BIN / "mirage-secrets"), "serve", "--workers", str(workers)],
        env,
        stack.workdir / f"service-{port}.log",
    )
    service = Service(base=f"http://127.0.0.1:{port}", child=child)
    try:
        wait_until(child, f"{service.base}/healthz")
    except BaseException:
        child.stop()
        raise
    return service


# -- setup --------------------------------------------------------------------------------------


@dataclass
class Stack:
    """What both service runs share: one OpenBao, one database, one signing key, the seed data."""

    workdir: Path
    bao: OpenBao
    database_url: str
    private_key: Path
    public_key: Path
    issuer: str
    audience: str
    users: list[str] = field(default_factory=list)
    many_users: list[str] = field(default_factory=list)  # one key ("own") each
    tokens: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh `mirage_bench_<hex>` database on the shared local server, dropped afterwards."""
    import asyncpg

    name = f"mirage_bench_{secrets.token_hex(6)}"  # hex only: safe to quote into DDL
    admin = PG_ADMIN_URL.replace("+asyncpg", "")

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        sys.exit(f"bench: no PostgreSQL at {admin} ({type(exc).__name__}); pass --database-url or --sqlite")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def running_stack(database_url: str | None, *, sqlite: bool = False) -> Iterator[Stack]:
    import hvac

    from adapters.db.migrate import upgrade
    from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keypair, issue_token
    from adapters.vault.bootstrap import JwtAuthSetup, bootstrap_vault

    with contextlib.ExitStack() as resources:
        workdir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="mirage-bench-")))
        if database_url:
            url = database_url
        elif sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
        else:
            url = resources.enter_context(throwaway_postgres())
        bao = start_openbao(workdir)
        try:
            upgrade(url)
            private_key, public_key = ensure_dev_keypair(workdir / "auth")
            # As in production: mount, policies, and JWT auth so that --user-auth jwt can log users in.
            jwt = JwtAuthSetup(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=public_key.read_text())
            bootstrap_vault(hvac.Client(url=bao.addr, token=bao.token), MOUNT, jwt=jwt, user_auth="jwt")
            stack = Stack(workdir, bao, url, private_key, public_key, DEV_ISSUER, DEV_AUDIENCE)
            stack.users = [f"bench-user-{i:02d}" for i in range(SEED_USERS)]
            stack.keys = [f"key-{i:02d}" for i in range(SEED_KEYS)]
            stack.many_users = [f"bench-many-{i:03d}" for i in range(MANY_USERS)]
            # Long enough for any run; the service may cache verified tokens until `exp`.
            stack.tokens = {
                user: issue_token(private_key, user, ttl_seconds=4 * 3600) for user in stack.users + stack.many_users
            }
            yield stack
        finally:
            bao.child.stop()


def seed(service: Service, stack: Stack) -> None:
    """Write every (user, key) through the API, a few requests at a time (it's setup, not load)."""

    async def write_all() -> list[str]:
        failures: list[str] = []
        limit = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=service.base, timeout=30.0, trust_env=False) as client:

            async def write(user: str, key: str) -> None:
                async with limit:
                    response = await client.post(
                        "/api/v1/secrets",
                        json={"key": key, "value": f"seed-{user}-{key}", "tags": ["bench"]},
                        headers={"Authorization": f"Bearer {stack.tokens[user]}"},
                    )
                if response.status_code != 201:
                    failures.append(f"{user}/{key}: {response.status_code} {response.text[:200]}")

            await asyncio.gather(
                *(write(u, k) for u in stack.users for k in stack.keys), *(write(u, "own") for u in stack.many_users)
            )
        return failures

    started = time.monotonic()
    failures = asyncio.run(write_all())
    if failures:
        raise RuntimeError(f"seeding failed for {len(failures)} secrets, first: {failures[0]}")
    count = len(stack.users) * len(stack.keys) + len(stack.many_users)
    print(f"  seeded {count} secrets in {time.monotonic() - started:.1f}s", flush=True)


def write_users_data(stack: Stack, path: Path) -> None:
    """The tokens the many-users script rotates through, one per user."""
    lines = ["return {", "tokens = {", *(f'"{stack.tokens[user]}",' for user in stack.many_users), "},", "}"]
    path.write_text("\n".join(lines) + "\n")


def worker_rss_mb(service: Service) -> list[float]:
    """Resident memory of each worker process (children of the serving process), in MB."""
    pid = service.child.process.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    sizes = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" in cmdline:
                continue
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)) / 1024)
    return sizes


def machine_load() -> str:
    """`uptime`'s load averages: the machine is shared, figures are read against it."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def write_mix_data(stack: Stack, path: Path) -> None:
    """The request sequence the mix script replays: Zipf-skewed over every seeded (user, key)."""
    rng = random.Random(20_241_128)  # fixed: the same sequence every run
    pairs = [(u, k) for u in range(len(stack.users)) for k in stack.keys]
    rng.shuffle(pairs)  # rank 1 is some random pair, not always user 0's first key
    weights = [1 / rank**ZIPF_S for rank in range(1, len(pairs) + 1)]
    ops = rng.choices(pairs, weights=weights, k=MIX_OPS)
    lines = ["return {", "tokens = {"]
    lines += [f'"{stack.tokens[user]}",' for user in stack.users]
    lines += ["},", "ops = {"]
    # Lua tables count from 1, hence user + 1.
    lines += [f'{{{u + 1},"{k}",{"true" if rng.random() < MIX_WRITE_SHARE else "false"}}},' for u, k in ops]
    lines += ["},", "}"]
    path.write_text("\n".join(lines) + "\n")


# -- scenarios ----------------------------------------------------------------------------------


@dataclass
class Plan:
    duration: float
    warmup: float
    workers: int
    redis_url: str | None
    user_auth: str = "token"
    sqlite: bool = False


def raw_openbao(stack: Stack, plan: Plan, user: str, key: str) -> WrkResult:
    url = f"{stack.bao.addr}/v1/{MOUNT}/data/users/{user}/custom/{key}"
    return run_wrk(url, plan.duration, headers={"X-Vault-Token": stack.bao.token})


def measured(stack: Stack, plan: Plan, label: str, run) -> ScenarioResult:
    """Warm up (unmeasured: fills every worker's cache), then a raw OpenBao run, then the scenario.

    The Vault read counter is read around the measured run only, so warm-up traffic and the raw
    OpenBao run (which are KV reads too) aren't counted.
    """
    user, key = stack.users[0], stack.keys[0]
    print(f"- {label}", flush=True)
    run(plan.warmup)
    baseline = raw_openbao(stack, plan, user, key)
    print(f"    raw OpenBao right before: {baseline.rps:,.0f} req/s", flush=True)
    before = vault_kv_reads(stack.bao)
    result = run(plan.duration)
    after = vault_kv_reads(stack.bao)
    reads = after - before if before is not None and after is not None else None
    note = f", {result.errors} errors" if result.errors else ""
    print(f"    {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms{note}", flush=True)
    return ScenarioResult(label, result, baseline, vault_reads=reads)


def single_key_reader(service: Service, stack: Stack):
    url = f"{service.base}/api/v1/secrets/{stack.keys[0]}"
    headers = {"Authorization": f"Bearer {stack.tokens[stack.users[0]]}"}
    return lambda seconds: run_wrk(url, seconds, headers=headers)


def many_users(service: Service, data_file: Path):
    return lambda seconds: run_wrk(service.base, seconds, script=USERS_SCRIPT, env={"BENCH_USERS_DATA": str(data_file)})


def mixer(service: Service, data_file: Path):
    return lambda seconds: run_wrk(service.base, seconds, script=MIX_SCRIPT, env={"BENCH_MIX_DATA": str(data_file)})


def vault_reads_per_uncached_get(service: Service, stack: Stack, count: int = 20) -> float | None:
    """KV reads one GET costs when nothing is cached, measured exactly: sequential, idle server.

    (Around a wrk run the counter also includes the up to 32 requests still in flight when wrk
    stops, which wrk doesn't count as done: at ~150 req/s that alone adds ~0.14 reads/request.)
    """
    before = vault_kv_reads(stack.bao)
    headers = {"Authorization": f"Bearer {stack.tokens[stack.users[1]]}"}
    with httpx.Client(base_url=service.base, timeout=10.0, trust_env=False) as client:
        for _ in range(count):
            client.get(f"/api/v1/secrets/{stack.keys[1]}", headers=headers).raise_for_status()
    after = vault_kv_reads(stack.bao)
    return (after - before) / count if before is not None and after is not None else None


@dataclass
class Report:
    rows: list[ScenarioResult]
    reads_per_uncached_get: float | None
    vault_sessions: dict | None = None  # per-user Vault logins (jwt mode), one worker's view
    rss: dict[str, list[float]] = field(default_factory=dict)  # service run -> MB per worker, after it
    loads: list[str] = field(default_factory=list)  # 1/5/15-minute load at start and after each run


def vault_sessions(service: Service, stack: Stack) -> dict | None:
    headers = {"Authorization": f"Bearer {stack.tokens[stack.users[0]]}"}
    with httpx.Client(base_url=service.base, timeout=10.0, trust_env=False) as client:
        return client.get("/api/v1/secrets/health", headers=headers).json().get("vault_sessions")


def run_all(plan: Plan, database_url: str | None) -> Report:
    rows: list[ScenarioResult] = []
    rss: dict[str, list[float]] = {}
    loads: list[str] = [machine_load()]
    with running_stack(database_url, sqlite=plan.sqlite) as stack:
        print(f"OpenBao {stack.bao.addr}; database {stack.database_url.split('://')[0]}", flush=True)
        mix_data = stack.workdir / "mix-data.lua"
        write_mix_data(stack, mix_data)
        users_data = stack.workdir / "users-data.lua"
        write_users_data(stack, users_data)

        sessions = None
        service = start_service(
            stack, workers=plan.workers, cache_ttl=None, redis_url=plan.redis_url, user_auth=plan.user_auth
        )
        try:
            print(f"service (cache on, default TTL) at {service.base}, {plan.workers} workers", flush=True)
            seed(service, stack)
            warm = measured(stack, plan, "(b) service GET, warm cache", single_key_reader(service, stack))
            # (a) is the raw run made right before (b), as PERFORMANCE.md asks.
            rows.append(ScenarioResult("(a) raw OpenBao KV v2 read", warm.baseline, None))
            rows.append(warm)
            rows.append(
                measured(
                    stack, plan, f"(f) service GET, {MANY_USERS} users, own key each", many_users(service, users_data)
                )
            )
            rows.append(measured(stack, plan, "(d) mix 90/10, Zipf, cache on", mixer(service, mix_data)))
            sessions = vault_sessions(service, stack)
            rss["cache on"] = worker_rss_mb(service)
            loads.append(machine_load())
        finally:
            service.child.stop()
            keep_service_log(service.child, "service-cache-on")

        service = start_service(
            stack, workers=plan.workers, cache_ttl=0, redis_url=plan.redis_url, user_auth=plan.user_auth
        )
        try:
            print(f"service (CACHE_TTL_SECONDS=0) at {service.base}", flush=True)
            per_get = vault_reads_per_uncached_get(service, stack)
            rows.insert(2, measured(stack, plan, "(c) service GET, cache off", single_key_reader(service, stack)))
            # Not in the brief's list, but it is what makes "Vault calls saved" computable for (d).
            rows.append(measured(stack, plan, "(e) mix 90/10, Zipf, cache off", mixer(service, mix_data)))
            rss["cache off"] = worker_rss_mb(service)
            loads.append(machine_load())
        finally:
            service.child.stop()
            keep_service_log(service.child, "service-cache-off")
    return Report(rows, per_get, sessions, rss=rss, loads=loads)


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def cache_notes(report: Report) -> list[str]:
    """Hit ratio and Vault calls saved, estimated from OpenBao's own read counter.

    The service has no metrics endpoint (yet), so: a GET that misses the cache costs as many KV
    reads as a GET with the cache off (probed exactly, one request at a time); a hit costs none.
    """
    by_tag = {row.label[:3]: row for row in report.rows}
    lines = []
    warm, per_get = by_tag.get("(b)"), report.reads_per_uncached_get
    if warm and warm.vault_reads is not None and per_get:
        would_cost = warm.result.requests * per_get
        saved = would_cost - warm.vault_reads
        lines.append(
            f"- (b): {warm.result.requests:,} GETs made {warm.vault_reads:,} Vault KV reads; an uncached GET "
            f"makes {per_get:g} (probed with the cache off): ~{saved:,.0f} Vault calls saved, "
            f"estimated cache hit ratio {1 - warm.vault_reads / would_cost:.1%}"
        )
    else:
        lines.append("- (b): cache hit ratio n/a, Vault calls saved n/a (OpenBao metrics unavailable)")
    mix_on, mix_off = by_tag.get("(d)"), by_tag.get("(e)")
    if mix_on and mix_off and mix_on.vault_reads is not None and mix_off.vault_reads_per_request:
        per_request = mix_off.vault_reads_per_request
        saved = mix_on.result.requests * per_request - mix_on.vault_reads
        lines.append(
            f"- (d): {mix_on.vault_reads_per_request:.2f} Vault KV reads per request vs {per_request:.2f} with the "
            f"cache off (e): ~{saved:,.0f} Vault calls saved in {mix_on.result.requests:,} requests "
            f"(~{1 - mix_on.vault_reads_per_request / per_request:.0%} fewer; approximate: writes read Vault too, "
            "and requests in flight when wrk stops are in the counter but not in wrk's count)"
        )
    else:
        lines.append("- (d): Vault calls saved n/a (OpenBao metrics unavailable)")
    return lines


def error_notes(rows: list[ScenarioResult]) -> list[str]:
    lines = []
    for row in rows:
        result = row.result
        if result.statuses:
            codes = ", ".join(f"{code}: {count:,}" for code, count in sorted(result.statuses.items()))
            lines.append(f"- {row.label[:3]} responses by status: {codes}")
        if result.errors:
            lines.append(
                f"- **{row.label[:3]} INVALID**: {result.non_2xx:,} non-2xx/3xx responses, "
                f"{result.socket_errors:,} socket errors out of {result.requests:,} requests"
            )
    return lines


def render(report: Report, args: argparse.Namespace, plan: Plan) -> str:
    rows = report.rows
    head = [
        f"# Mirage Secrets benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{plan.duration:g}s --latency (after a {plan.warmup:g}s "
        f"unmeasured warm-up); {plan.workers} service workers; cache "
        f"{'Redis ' + plan.redis_url if plan.redis_url else 'in-process'}; database "
        f"{'given by --database-url' if args.database_url else 'temp SQLite' if args.sqlite else 'throwaway PostgreSQL'}; "
        "OpenBao with a file audit device; Vault identity "
        f"{plan.user_auth}; commit {git_commit()}" + (" (working tree has local changes)" if git_dirty() else ""),
        "",
        "| scenario | req/s | p50 | p99 | ratio to raw OpenBao |",
        "|---|---:|---:|---:|---:|",
    ]
    body = [
        f"| {row.label} | {row.result.rps:,.0f} | {row.result.p50_ms:.1f} ms | {row.result.p99_ms:.1f} ms | "
        f"{_fmt(row.ratio, '.2f', '×') if row.baseline else '1.00×'}"
        f"{' (errors!)' if row.result.errors else ''} |"
        for row in rows
    ]
    baselines = ", ".join(f"{row.label[:3]} {row.baseline.rps:,.0f}" for row in rows if row.baseline)
    tail = [
        "",
        (
            f"Each ratio divides by the raw OpenBao run made right before that scenario (req/s: {baselines}); "
            "(a) is the one before (b)."
        ),
        "",
        "Cache effect (from OpenBao's `vault_route_read_mirage_` counter around each measured run):",
        *cache_notes(report),
    ]
    if report.vault_sessions:
        s = report.vault_sessions
        tail += [
            "",
            (
                f"Per-user Vault tokens (VAULT_USER_AUTH=jwt, one worker's counters, cache-on run): {s['logins']:,} "
                f"JWT logins at {s['mean_login_ms']} ms each on average, {s['reuses']:,} reuses "
                f"(reuse ratio {s['reuse_ratio']:.4f})."
            ),
        ]
    if report.rss:
        tail += [
            "",
            "RSS per worker after the runs: "
            + "; ".join(
                f"{run}: {', '.join(f'{mb:.0f} MB' for mb in sizes) or 'n/a'}" for run, sizes in report.rss.items()
            ),
        ]
    if report.loads:
        tail += ["", f"Machine load (1/5/15 min) at the start and after each service run: {' | '.join(report.loads)}"]
    errors = error_notes(rows)
    tail += ["", "Responses and errors:", *errors] if errors else ["", "No non-2xx responses or socket errors."]
    return "\n".join(head + body + tail) + "\n"


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def git_dirty() -> bool:
    done = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True)
    return bool(done.stdout.strip())


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    parser.add_argument("--redis", action="store_true", help=f"use Redis {REDIS_BENCH_URL}")
    parser.add_argument("--database-url", help="postgresql+asyncpg://... instead of a throwaway local database")
    parser.add_argument("--sqlite", action="store_true", help="a temp SQLite file instead of PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="3 s runs: a smoke check, not a measurement")
    parser.add_argument(
        "--user-auth", choices=("token", "jwt"), default="token", help="VAULT_USER_AUTH of the service (default token)"
    )
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the `finally` blocks stop OpenBao and the service


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    duration = 3.0 if args.quick else args.duration
    plan = Plan(
        duration=duration,
        warmup=1.0 if args.quick else 2.0,
        workers=args.workers,
        # Several workers need the shared cache: the service refuses in-process caches then.
        redis_url=REDIS_BENCH_URL if args.redis or args.workers > 1 else None,
        user_auth=args.user_auth,
        sqlite=args.sqlite,
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ensure_wrk()
    try:
        results = run_all(plan, args.database_url)
    except KeyboardInterrupt:
        print("\nbench: interrupted; OpenBao and the service were stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    report = render(results, args, plan)
    print("\n" + report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(f"written to {RESULTS.relative_to(REPO)} (service logs without access lines: bench/results/service-*.log)")
    return 1 if any(row.result.errors for row in results.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
