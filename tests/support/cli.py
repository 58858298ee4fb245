"""The `mirage-secrets` console script of this venv, run as an operator would (a clean environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("mirage-secrets"))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60
    )
