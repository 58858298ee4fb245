"""Environment Secrets tab: add, edit, delete, bulk import with preview, masked export, and the
Railway sync with its dry-run diff, against real Vault and the Railway wire fake."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import look, messages, open_tab, sign_in

pytestmark = pytest.mark.e2e


def open_environment(page, env_id: str) -> None:
    open_tab(page, "Environment Secrets")
    page.get_by_role("textbox", name="Environment id").fill(env_id)
    page.get_by_role("button", name="Open environment").click()
    expect(page.get_by_role("note")).to_contain_text("synced to Railway")


def test_environment_variables_bulk_import_export_and_sync(page, ui, user):
    env_id = f"env-{uuid.uuid4().hex[:8]}"
    token = sign_in(page, ui, user)
    open_environment(page, env_id)
    expect(page.get_by_text(f"No variables in {env_id} yet")).to_be_visible()

    page.get_by_role("button", name="Add Secret").click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    dialog.get_by_role("textbox", name="Variable name").fill("1BAD")
    expect(dialog.get_by_text("not starting with a digit")).to_be_visible()
    dialog.get_by_role("textbox", name="Variable name").fill("DATABASE_URL")
    dialog.get_by_label("Value").fill("postgres://db-one")
    look(page, "environment-add-modal")
    dialog.get_by_role("button", name="Save").click()
    expect(messages(page)).to_contain_text(f"DATABASE_URL saved in {env_id}")
    page.get_by_role("button", name="Add Secret").click()
    dialog.get_by_role("textbox", name="Variable name").fill("API_KEY")
    dialog.get_by_label("Value").fill("api-key-old")
    dialog.get_by_role("button", name="Save").click()
    table = page.get_by_role("table", name=f"Variables of {env_id}")
    expect(table.get_by_role("row")).to_have_count(3)
    assert "postgres://db-one" not in page.content()  # masked until revealed
    look(page, "environment-secrets")

    # Bulk import: a preview of added / changed / left alone, and nothing written before "Import".
    page.get_by_role("button", name="Bulk Import").click()
    bulk = page.get_by_role("dialog", name="Bulk Import")
    bulk.get_by_role("textbox", name=f"Variables for {env_id}").fill(
        "# pasted\nDATABASE_URL=postgres://db-one\nexport API_KEY='api-key-new'\nNEW_FLAG=\"on\"\n"
    )
    bulk.get_by_role("button", name="Preview").click()
    preview = bulk.get_by_role("region", name="Import preview")
    expect(preview.get_by_role("group", name="Will be added: 1")).to_contain_text("NEW_FLAG")
    expect(preview.get_by_role("group", name="Will be changed: 1")).to_contain_text("API_KEY")
    expect(preview.get_by_role("group", name="Left alone (same value): 1")).to_contain_text("DATABASE_URL")
    assert "api-key-new" not in preview.inner_text()
    look(page, "bulk-import-preview")
    with httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        before = api.get(f"/api/v1/environments/{env_id}/secrets").json()["secrets"]
        assert sorted(before) == ["API_KEY", "DATABASE_URL"]  # the preview wrote nothing
        bulk.get_by_role("button", name="Import 2 variables").click()
        expect(messages(page)).to_contain_text(f"Imported 3 variables into {env_id}")
        assert api.get(f"/api/v1/environments/{env_id}/secrets/API_KEY").json()["value"] == "api-key-new"
    expect(table.get_by_role("row")).to_have_count(4)

    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="API_KEY"))
    row.get_by_role("button", name="Reveal value of API_KEY").click()
    expect(row.get_by_label("Value of API_KEY", exact=True)).to_have_text("api-key-new")

    # Export: masked first; revealing is an explicit step.
    page.get_by_role("button", name="Export").click()
    export = page.get_by_role("dialog", name=f"Export {env_id}")
    text = export.get_by_label(f".env export of {env_id}, values masked")
    expect(text).to_contain_text("API_KEY=••••")
    assert "api-key-new" not in export.inner_text()
    look(page, "export-masked")
    with page.expect_download() as masked_download:
        export.get_by_role("button", name="Download .env").click()
    masked_file = masked_download.value.path().read_text()
    assert "NEW_FLAG=" in masked_file and "api-key-new" not in masked_file
    export.get_by_role("button", name="Reveal values").click()
    expect(export.get_by_label(f".env export of {env_id}", exact=True)).to_contain_text("API_KEY=api-key-new")
    export.get_by_role("button", name="Done").click()

    # Sync: the dry run's diff first, then the push.
    with httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        stored = api.post("/api/v1/secrets/railway", json={"token": ui.railway.add_account_token()})
        assert stored.status_code == 201, stored.text
    project, railway_env = str(uuid.uuid4()), str(uuid.uuid4())
    ui.railway.variables[(project, railway_env, None)] = {"API_KEY": "api-key-new", "STALE": "x"}
    page.get_by_role("button", name="Sync to Railway").click()
    sync = page.get_by_role("dialog", name=f"Sync {env_id} to Railway")
    expect(sync).to_contain_text("everyone with access")
    sync.get_by_role("textbox", name="Railway project id").fill(project)
    sync.get_by_role("textbox", name="Railway environment id").fill(railway_env)
    expect(sync.get_by_role("button", name="Push to Railway")).to_be_disabled()
    sync.get_by_role("button", name="Preview changes").click()
    dry_run = sync.get_by_role("region", name="Dry run")
    expect(dry_run.get_by_role("group", name="Added: 2")).to_contain_text("DATABASE_URL")
    expect(dry_run.get_by_role("group", name="Removed: 1")).to_contain_text("STALE")
    expect(dry_run).to_contain_text("Unchanged: 1")
    look(page, "sync-dry-run")
    assert ui.railway.variables[(project, railway_env, None)] == {"API_KEY": "api-key-new", "STALE": "x"}
    sync.get_by_role("button", name="Push to Railway").click()
    expect(messages(page)).to_contain_text("Pushed to Railway: 2 added")
    pushed = ui.railway.variables[(project, railway_env, None)]
    assert pushed["DATABASE_URL"] == "postgres://db-one" and pushed["NEW_FLAG"] == "on"

    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="NEW_FLAG"))
    row.get_by_role("button", name="Delete").click()
    look(page, "environment-delete-confirm")
    page.get_by_role("dialog", name="Delete NEW_FLAG").get_by_role("button", name="Delete").click()
    expect(messages(page)).to_contain_text(f"NEW_FLAG removed from {env_id}")
    expect(table.get_by_role("row")).to_have_count(3)
    assert not page.errors
