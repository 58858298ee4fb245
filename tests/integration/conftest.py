"""Fixtures shared by the provider adapter tests."""

from __future__ import annotations

import logging

import httpx
import pytest


@pytest.fixture
async def http(request):
    """One HTTP client per test, with the calling module's `TIMEOUT_S` (short where slow answers are tested)."""
    async with httpx.AsyncClient(timeout=getattr(request.module, "TIMEOUT_S", 5.0), trust_env=False) as client:
        yield client


@pytest.fixture
def capture(caplog):
    """Every log record, so tests can assert that no token reached a log line."""
    caplog.set_level(logging.DEBUG)
    return caplog
