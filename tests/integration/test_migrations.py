"""Migrations on SQLite and PostgreSQL: every step reverses cleanly, and head matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from adapters.db.engine import create_database
from adapters.db.migrate import downgrade, revisions, upgrade
from adapters.db.models import Base
from tests.support.postgres import create_test_database, drop_test_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request, tmp_path):
    """A database with nothing in it yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/migrations.db"
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    url = create_test_database(admin_url)
    try:
        yield url
    finally:
        drop_test_database(admin_url, url)


async def _current_state(url: str) -> tuple[set[str], str | None, list]:
    """Tables, the stamped revision, and the differences between the models and the schema."""
    database = create_database(url)
    try:
        async with database.engine.connect() as connection:

            def inspect_schema(sync_connection):
                context = MigrationContext.configure(
                    sync_connection, opts={"compare_type": True, "compare_server_default": True}
                )
                tables = set(inspect(sync_connection).get_table_names()) - {"alembic_version"}
                return tables, context.get_current_revision(), compare_metadata(context, Base.metadata)

            return await connection.run_sync(inspect_schema)
    finally:
        await database.dispose()


async def test_stairway_every_revision_upgrades_downgrades_and_upgrades_again(empty_database_url):
    url = empty_database_url
    all_revisions = revisions()
    assert all_revisions, "no migrations found"
    for revision in all_revisions:
        # Called from inside the running loop on purpose: migrate runs Alembic in its own thread.
        upgrade(url, revision)
        downgrade(url, "-1")
        upgrade(url, revision)
        assert (await _current_state(url))[1] == revision

    downgrade(url, "base")
    tables, current, _ = await _current_state(url)
    assert (tables, current) == (set(), None)


async def test_head_schema_matches_the_models(empty_database_url):
    upgrade(empty_database_url)

    tables, current, differences = await _current_state(empty_database_url)

    assert current == revisions()[-1]
    assert tables == set(Base.metadata.tables)
    assert differences == []
