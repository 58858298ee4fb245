"""The browser suite: Debian's chromium (headless, through Playwright) on a served instance of the
service with its web UI, real OpenBao, PostgreSQL and Redis, the real Docker registry, and the
Railway/GitHub wire fakes. One browser for the whole session; a fresh context (no storage) and a
fresh user per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from entrypoints.settings import DEFAULT_UI_DIST_DIR
from tests.support.browser import UiInstance
from tests.support.providers import FakeGitHub, FakeRailway
from tests.support.served import serve

EXPECT_TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def built_ui() -> Path:
    if not (DEFAULT_UI_DIST_DIR / "index.html").is_file():
        pytest.fail(f"the web UI is not built at {DEFAULT_UI_DIST_DIR}: run `make install`")
    return DEFAULT_UI_DIST_DIR


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        # `make test` installs it (infra/scripts/ensure-services.sh); never `playwright install`.
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (make test does)")
    return found


@pytest.fixture(scope="package")
def browser(chromium_path) -> Iterator[Browser]:
    # Package scope, not session: Playwright's sync API keeps an event loop running on this
    # thread while it is open, and the async tests that run after this package need it gone.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def railway() -> Iterator[FakeRailway]:
    with FakeRailway() as fake:
        yield fake


@pytest.fixture(scope="session")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture(scope="session")
def ui(built_ui, openbao, pg_url, signing_keys, tmp_path_factory, railway, github, local_docker_registry):
    """The service as `make run` serves it, wired to the fakes and the real registry."""
    with serve(
        vault_addr=openbao.addr,
        vault_token=openbao.root_token,
        database_url=pg_url,
        signing_keys=signing_keys,
        log_dir=tmp_path_factory.mktemp("ui-served"),
        workers=1,
        extra_env={
            "RAILWAY_API_URL": railway.endpoint,
            "GITHUB_API_URL": github.api_url,
            "DOCKER_INSECURE_REGISTRIES": local_docker_registry.host,
            "RAILWAY_ENV_FALLBACK": "false",
        },
    ) as served:
        yield UiInstance(served=served, railway=railway, github=github, registry=local_docker_registry)


@pytest.fixture
def context(browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A CSP violation means something inline or third-party slipped into the build.
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    page.errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def user() -> str:
    return f"ui_{uuid.uuid4().hex[:10]}"
