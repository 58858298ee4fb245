"""Chaos against a real OpenBao: killed, sealed, slow. Outcomes are asserted, never durations.

Each test starts its own server (the session `openbao` fixture must never be killed or sealed).
The real `HvacSecretVault` is wrapped in a call counter (a pass-through, not a fake), so the
tests can say exactly how many requests reached Vault.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx
import pytest

from adapters.vault.bootstrap import ensure_kv_mount
from adapters.vault.breaker import CircuitBreaker, CircuitOpen
from adapters.vault.client import build_client
from adapters.vault.embedded import EmbeddedOpenBao
from adapters.vault.hvac_vault import HvacSecretVault
from adapters.vault.resilient import ResilientSecretVault
from domain.errors import VaultUnavailable, VersionConflict
from domain.ports import VaultHealth
from domain.secrets import VaultEntry, VaultMetadata
from domain.values import SecretValue
from tests.support.openbao import start_dev_openbao
from tests.support.ports import free_port
from tests.support.processes import kill_process_group

pytestmark = pytest.mark.integration

MOUNT = "mirage"
RECOVERY_BOUND_S = 20.0  # an upper bound for a loop, not an expectation


class CountingVault:
    """Passes every call to the real adapter and counts it."""

    def __init__(self, inner: HvacSecretVault) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def total(self) -> int:
        return sum(n for name, n in self.calls.items() if name != "health")

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        self.calls["read"] += 1
        return await self.inner.read(path, version)

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        self.calls["read_metadata"] += 1
        return await self.inner.read_metadata(path)

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        self.calls["write"] += 1
        return await self.inner.write(path, data, cas=cas)

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        self.calls["set_custom_metadata"] += 1
        await self.inner.set_custom_metadata(path, custom)

    async def soft_delete(self, path: str) -> None:
        self.calls["soft_delete"] += 1
        await self.inner.soft_delete(path)

    async def health(self) -> VaultHealth:
        self.calls["health"] += 1
        return await self.inner.health()

    async def close(self) -> None:
        await self.inner.close()


def value(text: str) -> dict[str, SecretValue]:
    return {"token": SecretValue(text)}


def mount_kv(addr: str, token: str) -> None:
    root = build_client(addr=addr, token=token)
    try:
        ensure_kv_mount(root, MOUNT)
    finally:
        root.adapter.close()


def resilient_on(addr: str, token: str, *, timeout: float, threshold: int, cool_down: float, attempts: int = 3):
    counting = CountingVault(HvacSecretVault(build_client(addr=addr, token=token, timeout=timeout), mount=MOUNT))
    breaker = CircuitBreaker(failure_threshold=threshold, reset_timeout=cool_down)
    vault = ResilientSecretVault(counting, breaker=breaker, attempts=attempts, base_delay=0.01, max_delay=0.05)
    return counting, breaker, vault


async def wait_for_recovery(call: Callable[[], Awaitable[object]]) -> object:
    """Keep calling until Vault answers; the breaker's own half-open probe must let one through."""
    async with asyncio.timeout(RECOVERY_BOUND_S):
        while True:
            try:
                return await call()
            except VaultUnavailable:
                await asyncio.sleep(0.05)


def open_calls(vault: ResilientSecretVault, path: str) -> list[Callable[[], Awaitable[object]]]:
    return [
        lambda: vault.read(path),
        lambda: vault.read_metadata(path),
        lambda: vault.write(path, value("never"), cas=1),
        lambda: vault.set_custom_metadata(path, {"k": "v"}),
        lambda: vault.soft_delete(path),
    ]


# -- killed ------------------------------------------------------------------------------------


async def test_killed_mid_run_fails_fast_once_the_breaker_opens() -> None:
    server = start_dev_openbao()
    counting = None
    try:
        mount_kv(server.addr, server.root_token)
        # A long cool-down: no probe during this test, so every count below is exact.
        counting, breaker, vault = resilient_on(server.addr, server.root_token, timeout=2.0, threshold=5, cool_down=60)
        workers = 4
        ok_before_kill: Counter[str] = Counter()
        outcomes_after_kill: Counter[str] = Counter()
        killed = asyncio.Event()
        enough = asyncio.Event()

        async def worker(n: int) -> None:
            path = f"users/u{n}/custom/k"
            version = 0
            while True:
                try:
                    entry = await vault.write(path, value(f"w{n}-{version + 1}"), cas=version)
                    version = entry.version
                    assert (await vault.read(path)).version == version
                    if not killed.is_set():
                        ok_before_kill["ok"] += 1
                        if sum(ok_before_kill.values()) >= 20:
                            enough.set()
                    else:
                        outcomes_after_kill["ok"] += 1
                except CircuitOpen:
                    outcomes_after_kill["fast_fail"] += 1
                    if outcomes_after_kill["fast_fail"] >= 40:
                        return
                except VaultUnavailable:
                    outcomes_after_kill["unavailable"] += 1
                await asyncio.sleep(0)

        async with asyncio.timeout(60):
            tasks = [asyncio.create_task(worker(n)) for n in range(workers)]
            await enough.wait()
            calls_at_kill = counting.total()
            kill_process_group(server.process)
            await asyncio.to_thread(server.process.wait, 10)
            killed.set()
            await asyncio.gather(*tasks)

        assert breaker.state == "open"
        assert breaker.opened == 1
        calls_after_kill = counting.total() - calls_at_kill
        # About the threshold: calls in flight at the kill fail too and count toward it, calls in
        # flight when it trips still reach Vault (and a late success may reset the run once).
        assert breaker.failure_threshold - workers <= calls_after_kill <= breaker.failure_threshold + 2 * workers
        assert outcomes_after_kill["fast_fail"] >= 40

        # From now on nothing reaches Vault, whatever the operation.
        frozen = counting.total()
        for _ in range(4):
            for call in open_calls(vault, "users/u0/custom/k"):
                with pytest.raises(CircuitOpen) as caught:
                    await call()
                assert 1 <= caught.value.retry_after <= 60
        assert counting.total() == frozen

        # Health is never blocked: it reaches the (dead) server and says so.
        health = await vault.health()
        assert health.reachable is False
        assert counting.calls["health"] == 1
    finally:
        if counting is not None:
            await counting.close()
        server.stop()
        assert server.process.poll() is not None


# -- sealed ------------------------------------------------------------------------------------


@pytest.fixture
def persistent_bao(tmp_path: Path):
    bao = EmbeddedOpenBao(tmp_path, port=free_port(consecutive=2))
    try:
        yield bao
    finally:
        bao.stop()


async def test_sealed_writes_fail_are_not_applied_and_the_breaker_recovers_by_itself(persistent_bao) -> None:
    info = await asyncio.to_thread(persistent_bao.start)
    mount_kv(info.addr, info.root_token)
    counting, breaker, vault = resilient_on(
        info.addr, info.root_token, timeout=2.0, threshold=3, cool_down=0.2, attempts=2
    )
    try:
        async with asyncio.timeout(90):
            a, b = "users/u1/railway", "users/u1/custom/b"
            await vault.write(a, value("a1"), cas=0)
            await vault.write(a, value("a2"), cas=1)
            await vault.write(b, value("b1"), cas=0)
            await vault.set_custom_metadata(a, {"secret_type": "railway", "created_by": "u1"})
            before = counting.total()

            async with httpx.AsyncClient(base_url=info.addr, trust_env=False, timeout=10) as admin:
                sealed = await admin.put("/v1/sys/seal", headers={"X-Vault-Token": info.root_token})
                assert sealed.status_code == 204

            # Sealed = Vault refused before acting: safe to retry (2 attempts), then the breaker trips.
            with pytest.raises(VaultUnavailable) as first:
                await vault.write(a, value("a3-lost"), cas=2)
            assert not isinstance(first.value, CircuitOpen)
            assert counting.calls["write"] - 3 == 2
            with pytest.raises(CircuitOpen):
                await vault.write(b, value("b2-lost"), cas=1)  # third failure trips, its retry is refused
            assert counting.total() - before == 3
            assert breaker.opened == 1

            # While sealed, every call fails; only the breaker's probes (one per cool-down) reach Vault.
            probes_before, frozen = breaker.probes, counting.total()
            for _ in range(5):
                for call in open_calls(vault, a):
                    with pytest.raises(VaultUnavailable):
                        await call()
            assert counting.total() - frozen == breaker.probes - probes_before

            health = await vault.health()  # not blocked: it sees the seal
            assert (health.reachable, health.sealed) == (True, True)

            # Unseal: the embedded server unseals itself on start.
            await asyncio.to_thread(persistent_bao.stop)
            await asyncio.to_thread(persistent_bao.start)
            opened_before_recovery = breaker.opened

            entry = await wait_for_recovery(lambda: vault.read(a))

            assert breaker.state == "closed"
            assert breaker.probes >= 1  # recovery came through a half-open probe, not a health check
            assert breaker.opened >= opened_before_recovery
            # Nothing lost, nothing half-written: exactly what was there before the seal.
            assert (entry.version, entry.data["token"].reveal()) == (2, "a2")
            meta_a = await vault.read_metadata(a)
            assert meta_a.current_version == 2
            assert meta_a.custom == {"secret_type": "railway", "created_by": "u1"}
            entry_b = await vault.read(b)
            assert (entry_b.version, entry_b.data["token"].reveal()) == (1, "b1")
            assert (await vault.read_metadata(b)).current_version == 1
            # And the service writes again, from where it was.
            assert (await vault.write(a, value("a3"), cas=2)).version == 3
    finally:
        await counting.close()


# -- slow --------------------------------------------------------------------------------------


class DelayProxy:
    """A TCP proxy that can hold back Vault's answers (requests still go through at once)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer, delayed=False),
                self._pipe(upstream_reader, client_writer, delayed=True),
            )
        except OSError:
            pass
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    await self._close(writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool) -> None:
        try:
            while data := await reader.read(65536):
                if delayed and self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            await self._close(writer)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        if not writer.is_closing():
            writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in list(self._writers):
            await self._close(writer)
        if self._server is not None:
            await self._server.wait_closed()


async def test_slow_vault_times_out_opens_the_breaker_and_recovers() -> None:
    server = start_dev_openbao()
    proxy = DelayProxy("127.0.0.1", int(server.addr.rsplit(":", 1)[1]))
    counting = None
    try:
        mount_kv(server.addr, server.root_token)
        proxy_addr = await proxy.start()
        counting, breaker, vault = resilient_on(proxy_addr, server.root_token, timeout=0.5, threshold=3, cool_down=0.2)
        async with asyncio.timeout(60):
            path = "users/u1/github"
            assert (await vault.write(path, value("g1"), cas=0)).version == 1

            proxy.delay = 3.0  # far beyond the client's 0.5 s timeout

            # A write whose answer never came may have landed: it is not retried.
            with pytest.raises(VaultUnavailable) as lost:
                await vault.write(path, value("g2"), cas=1)
            assert not isinstance(lost.value, CircuitOpen)
            assert counting.calls["write"] == 2
            # A read is idempotent: retried until the breaker trips on the third timeout.
            with pytest.raises(CircuitOpen):
                await vault.read(path)
            assert counting.calls["read"] == 2
            assert breaker.state in ("open", "half_open")
            assert breaker.opened == 1

            probes_before, frozen = breaker.probes, counting.total()
            for call in open_calls(vault, path) * 2:
                with pytest.raises(VaultUnavailable):
                    await call()
            assert counting.total() - frozen == breaker.probes - probes_before

            proxy.delay = 0.0
            entry = await wait_for_recovery(lambda: vault.read(path))
            assert breaker.state == "closed"

            # The timed-out write had in fact landed. The service said "unavailable" (outcome
            # unknown), not "conflict"; the same check-and-set again now tells the truth.
            assert (entry.version, entry.data["token"].reveal()) == (2, "g2")
            with pytest.raises(VersionConflict):
                await vault.write(path, value("g2"), cas=1)
            assert (await vault.write(path, value("g3"), cas=2)).version == 3
    finally:
        await proxy.close()
        if counting is not None:
            await counting.close()
        server.stop()
