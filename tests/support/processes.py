"""Stopping the servers the test fixtures (and the benchmark) start in their own process groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, *, grace_seconds: float = 10) -> None:
    """SIGTERM the whole group, then SIGKILL it if it has not gone within the grace period. The
    leader may exit while a worker of its group lingers: the group is swept with SIGKILL at the end."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            kill_process_group(process)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def kill_process_group(process: subprocess.Popen) -> None:
    """SIGKILL the whole group at once: a server dying mid-work, as the chaos tests need."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
