"""Every runnable shell block in the README and docs/ runs against a served instance.

One test per page: its blocks run in order in one bash session (see tests/docs/examples.py for
the markers and how outputs are compared). A changed endpoint, field or flag fails here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.doc_examples import REPO, Example, check_page, extract, page_script

pytestmark = pytest.mark.e2e

PAGE_TIMEOUT_SECONDS = 240
# The README's and docs' examples: fewer than this means markers were lost, not examples fixed.
MINIMUM_EXAMPLES = 20
DEV_URL = "http://127.0.0.1:8000"


def documented_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def runnable_pages() -> dict[str, list[Example]]:
    pages = {}
    for page in documented_pages():
        examples = extract(page)
        if examples:
            pages[str(page.relative_to(REPO))] = examples
    return pages


PAGES = runnable_pages()


def test_the_docs_keep_their_runnable_examples():
    count = sum(len(examples) for examples in PAGES.values())
    assert count >= MINIMUM_EXAMPLES, f"only {count} runnable examples left in {sorted(PAGES)}"
    assert "README.md" in PAGES


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_examples_run(page, docs_world, tmp_path):
    examples = PAGES[page]
    script, order = page_script(examples)
    # The docs address the development server a reader starts with `make run`; here it is ours.
    script = script.replace(DEV_URL, docs_world.instance.url)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")  # `.venv/bin/mirage-secrets` as in the README
    env = docs_world.environment(tmp_path)
    run = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=PAGE_TIMEOUT_SECONDS,
    )
    failures = check_page(order, run.returncode, run.stdout, run.stderr)
    assert not failures, f"{len(failures)} example(s) of {page} failed:\n" + "\n".join(map(str, failures))
    print(f"{page}: {len(examples)} examples, {len(order)} steps ran")
