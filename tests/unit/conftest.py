"""Fixtures of the unit tests (fakes only, no I/O)."""

from __future__ import annotations

import pytest

from tests.fakes.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
