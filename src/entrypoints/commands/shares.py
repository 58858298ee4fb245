"""Reading unseal shares: from a file, from standard input (one per line), or from a hidden prompt."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from entrypoints.settings import SettingsError


def read_shares(shares_file: str | None, *, needed: int | None = None) -> list[str]:
    """Shares are never echoed, logged or kept anywhere but this process's memory."""
    if shares_file:
        lines = Path(shares_file).read_text().splitlines()
    elif not sys.stdin.isatty():
        lines = sys.stdin.read().splitlines()
    else:
        count = needed or 1
        lines = [getpass.getpass(f"unseal share {n + 1} of {count}: ") for n in range(count)]
    shares = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not shares:
        raise SettingsError("no unseal shares given (a file, standard input one per line, or the prompt)")
    return shares
