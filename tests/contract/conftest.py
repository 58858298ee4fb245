"""Metadata-index implementations for the contract tests: in memory, SQLite and PostgreSQL.

Each SQL database is created and migrated once per session (PostgreSQL: a fresh
`mirage_test_<hex>` database, dropped at the end); tables are emptied before every test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import text

from adapters.db.engine import Database, create_database
from adapters.db.migrate import upgrade
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
from domain.ports import SecretIndex, UserDirectory
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory


@dataclass
class IndexHarness:
    """The two ports under test, plus row counts read behind their back."""

    index: SecretIndex
    users: UserDirectory
    count_users: Callable[[str], Awaitable[int]]
    count_rows: Callable[[str], Awaitable[int]]  # index rows of a user, deleted ones included
    reset: Callable[[], Awaitable[None]]


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    # A subdirectory that doesn't exist yet: create_database must make it.
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('index')}/data/index.db"
    upgrade(url)
    return url


@pytest_asyncio.fixture(scope="session")
async def pg_database(pg_url):
    database = create_database(pg_url)
    yield database
    await database.dispose()


@pytest_asyncio.fixture(scope="session")
async def sqlite_database(sqlite_url):
    database = create_database(sqlite_url)
    yield database
    await database.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def implementation(request) -> IndexHarness:
    # Sync on purpose: an async fixture can't pull the async database fixtures by name.
    if request.param == "memory":
        users = InMemoryUserDirectory()
        index = InMemorySecretIndex(users)

        async def count_users(user_id: str) -> int:
            return int(user_id in users.users)

        async def count_rows(user_id: str) -> int:
            return sum(1 for owner, _ in index.records if owner == user_id)

        async def nothing_to_reset() -> None:
            return None

        return IndexHarness(index, users, count_users, count_rows, nothing_to_reset)

    fixture = {"sqlite": "sqlite_database", "postgres": "pg_database"}[request.param]
    database: Database = request.getfixturevalue(fixture)

    async def reset() -> None:
        async with database.engine.begin() as connection:
            await connection.execute(text("DELETE FROM secret_index"))
            await connection.execute(text("DELETE FROM users"))

    async def count(sql: str, user_id: str) -> int:
        async with database.engine.connect() as connection:
            return (await connection.execute(text(sql), {"user_id": user_id})).scalar_one()

    return IndexHarness(
        SqlSecretIndex(database),
        SqlUserDirectory(database),
        lambda user_id: count("SELECT count(*) FROM users WHERE id = :user_id", user_id),
        lambda user_id: count("SELECT count(*) FROM secret_index WHERE user_id = :user_id", user_id),
        reset,
    )


@pytest_asyncio.fixture
async def harness(implementation: IndexHarness) -> IndexHarness:
    """The implementation under test, with empty tables (the SQL databases live all session)."""
    await implementation.reset()
    return implementation
