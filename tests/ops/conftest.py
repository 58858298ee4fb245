"""Fixtures for the operations tests (the CLI helpers are in tests/support/cli.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def fresh_database(fresh_pg_url):
    """A migrated database of its own (the drill and failover tests restart services against it)."""
    return fresh_pg_url
