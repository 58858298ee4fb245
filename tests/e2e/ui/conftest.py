"""The browser suite: Debian's chromium (headless, through Playwright) on a served instance of the
service with its web UI, real OpenBao, PostgreSQL and Redis, the real Docker registry, and the
Railway/GitHub wire fakes. One browser for the whole session; a fresh context (no storage) and a
fresh user per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from entrypoints.settings import DEFAULT_UI_DIST_DIR
from tests.support.providers import FakeGitHub, FakeRailway
from tests.support.registry import LocalRegistry, local_docker_registry  # noqa: F401 (fixture)
from tests.support.served import ServedInstance, serve

SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
# axe-core impacts that fail a test; "minor" and "moderate" findings are reported, not fatal.
FATAL_IMPACTS = {"serious", "critical"}
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


@dataclass(frozen=True)
class UiInstance:
    served: ServedInstance
    railway: FakeRailway
    github: FakeGitHub
    registry: LocalRegistry

    @property
    def url(self) -> str:
        return self.served.url


@pytest.fixture(scope="session")
def ui(built_ui, openbao, pg_url, signing_keys, tmp_path_factory, railway, github, local_docker_registry):  # noqa: F811
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


def sign_in(page: Page, instance: UiInstance, user: str, *, admin: bool = False) -> str:
    """Open /ui and sign in the way a person does: paste a bearer token. Returns the token."""
    token = instance.served.token(user, admin=admin)
    page.goto(f"{instance.url}/ui")
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("tab", name="Railway Token")).to_be_visible()
    return token


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def check_accessibility(page: Page, what: str) -> None:
    """axe-core on what is on screen now (page or open modal): no serious or critical violation."""
    results = Axe().run(page)
    fatal = [v for v in results.response["violations"] if v.get("impact") in FATAL_IMPACTS]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in fatal
    )
    assert not fatal, f"axe found serious/critical violations on {what}:\n{report}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def look(page: Page, name: str) -> None:
    """Every page and modal the suite opens: checked by axe and photographed."""
    check_accessibility(page, name)
    screenshot(page, name)


def messages(page: Page):
    """The page's success/error line (a polite live region)."""
    return page.get_by_role("status", name="Messages")
