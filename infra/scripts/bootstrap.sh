#!/usr/bin/env bash
# Create .venv and install the locked dependencies into it. Idempotent: quiet
# and quick when everything is already in place.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PYTHON="${PYTHON:-python3}"

if [[ ! -x .venv/bin/python ]]; then
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "bootstrap: $PYTHON not found; install Python >= 3.11" >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "bootstrap: Python >= 3.11 required, $PYTHON is $("$PYTHON" -V 2>&1)" >&2
        exit 1
    fi
    echo "bootstrap: creating .venv with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv .venv
fi

if [[ ! -x .venv/bin/uv ]]; then
    echo "bootstrap: installing uv into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi

# An exact sync (the default) removes packages not in uv.lock, but uv keeps
# itself and pip (checked with uv 0.13.9), so no --inexact is needed and stale
# packages still get cleaned out.
if [[ -f uv.lock ]]; then
    .venv/bin/uv sync --frozen --quiet
else
    echo "bootstrap: uv.lock missing; resolving dependencies (uv sync without --frozen)" >&2
    .venv/bin/uv sync --quiet
fi

# The web UI served at /ui (Node.js from Debian where missing; skipped when up to date).
bash infra/scripts/build-web.sh
