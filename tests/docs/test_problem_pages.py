"""Every problem type the API can answer with has its page under docs/problems/, with the status,
the cause and the fix; and no page documents a type the API no longer produces.

The slugs come from the code, not from a list kept here: the error table in
src/entrypoints/http/problems.py, every literal slug passed to its `_problem`, the `http-<status>`
slugs of the statuses its HTTP error handler names, and any other `problems/<slug>` literal in src/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PROBLEMS_MODULE = REPO / "src" / "entrypoints" / "http" / "problems.py"
PAGES = REPO / "docs" / "problems"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A whole literal slug; `problems/http-{status}` built elsewhere is the http-<status> family above.
TYPE_LITERAL = re.compile(r"problems/([a-z0-9]+(?:-[a-z0-9]+)*)(?![-{a-z0-9])")


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _int(node: ast.AST) -> int | None:
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _int_keys(node: ast.AST) -> set[int]:
    if not isinstance(node, ast.Dict):
        return set()
    return {code for key in node.keys if key is not None and (code := _int(key)) is not None}


def _status_map_keys(tree: ast.Module, function: ast.AST) -> set[int]:
    """The statuses a handler names: dict literals in it, or module-level dicts it refers to."""
    module_dicts = {
        target.id: _int_keys(node.value)
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    keys: set[int] = set()
    for node in ast.walk(function):
        keys |= _int_keys(node)
        if isinstance(node, ast.Name):
            keys |= module_dicts.get(node.id, set())
    return keys


def produced_problem_types() -> dict[str, int | None]:
    """slug → HTTP status (None where the code decides the status at run time)."""
    tree = ast.parse(PROBLEMS_MODULE.read_text())
    found: dict[str, int | None] = {}
    # The table: tuples of (error class, status, slug).
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) >= 3:
            status, slug = _int(node.elts[-2]), _string(node.elts[-1])
            if status is not None and slug and SLUG.match(slug):
                found[slug] = status
    # Literal slugs handed to the problem builder, and http-<status> built from a status.
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            if not (isinstance(call.func, ast.Name) and call.func.id == "_problem") or len(call.args) < 3:
                continue
            status, slug = _int(call.args[1]), call.args[2]
            if _string(slug):
                found.setdefault(_string(slug), status)
            elif isinstance(slug, ast.JoinedStr):
                prefix = "".join(_string(part) or "" for part in slug.values if isinstance(part, ast.Constant))
                statuses = _status_map_keys(tree, function)
                assert statuses, f"{PROBLEMS_MODULE}: {prefix}<status> is built, but no status map names its statuses"
                for code in statuses:
                    found[f"{prefix}{code}"] = code
    for source in (REPO / "src").rglob("*.py"):
        for slug in TYPE_LITERAL.findall(source.read_text()):
            found.setdefault(slug, None)
    return found


PRODUCED = produced_problem_types()


def test_the_walk_finds_the_table():
    # A walk that found nothing would make every other test here pass vacuously.
    assert {"secret-not-found", "vault-unavailable", "bad-request", "internal-error"} <= set(PRODUCED)


@pytest.mark.parametrize("slug", sorted(PRODUCED))
def test_every_problem_type_has_a_page_with_status_cause_and_fix(slug):
    page = PAGES / f"{slug}.md"
    assert page.exists(), f"https://mirage.dev/problems/{slug} has no page: write docs/problems/{slug}.md"
    text = page.read_text()
    assert text.startswith(f"# `{slug}`"), f"{page} must start with '# `{slug}`'"
    status = PRODUCED[slug]
    if status is not None:
        assert f"**HTTP status:** {status}" in text, f"{page} must say **HTTP status:** {status}"
    for section in ("## Cause", "## Fix"):
        assert section in text, f"{page} lacks a '{section}' section"


def test_no_page_documents_a_type_the_api_does_not_produce():
    documented = {page.stem for page in PAGES.glob("*.md")} - {"index"}
    assert documented - set(PRODUCED) == set()


def test_the_problem_index_links_every_page():
    index = (PAGES / "index.md").read_text()
    missing = [slug for slug in PRODUCED if f"({slug}.md)" not in index]
    assert not missing, f"docs/problems/index.md does not link {missing}"
