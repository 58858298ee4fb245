"""Settings have one home: only src/entrypoints/settings.py reads the environment, and every variable
it reads is in the README's settings table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
SETTINGS = SRC / "entrypoints" / "settings.py"
# `mirage-secrets dev` hands the embedded stack's addresses to the server it starts (writes, not reads).
WRITES_ALLOWED = {SRC / "entrypoints" / "cli.py": {"update", "pop", "setdefault"}}
# Handing `os.environ` to one of settings.py's functions is how the entrypoints read the environment.
SETTINGS_FUNCTIONS = frozenset(
    node.name for node in ast.parse(SETTINGS.read_text()).body if isinstance(node, ast.FunctionDef)
)
VARIABLE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def environment_reads(path: Path, root: Path = ROOT) -> list[str]:
    """Each place in `path` that reads the process environment rather than handing `os.environ` to
    a function of settings.py (`load_settings(os.environ)`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    handed_on: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SETTINGS_FUNCTIONS:
                handed_on.update(id(arg) for arg in node.args if _is_environ(arg))
            method = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if method in WRITES_ALLOWED.get(path, set()) and _is_environ(node.func.value):  # type: ignore[union-attr]
                handed_on.add(id(node.func.value))  # type: ignore[union-attr]
    for node in ast.walk(tree):
        # `{**os.environ, ...}`: the whole environment handed on to a child process, no variable read.
        if isinstance(node, ast.Dict):
            handed_on.update(id(value) for key, value in zip(node.keys, node.values, strict=True) if key is None)
    found = []
    for node in ast.walk(tree):
        getenv = isinstance(node, ast.Attribute) and node.attr in ("getenv", "getenvb", "environb")
        if getenv or (_is_environ(node) and id(node) not in handed_on):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_only_settings_reads_the_environment() -> None:
    offenders = [place for path in sorted(SRC.rglob("*.py")) if path != SETTINGS for place in environment_reads(path)]
    assert offenders == []


def test_the_check_finds_a_planted_read(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import os\nfrom os import environ\n"
        "a = os.environ.get('X')\nb = os.getenv('Y')\nc = environ['Z']\nload_settings(os.environ)\n"
    )
    # Line 2 imports the name; lines 3-5 read it; line 6 hands it to a settings loader.
    lines = sorted(int(place.rsplit(":", 1)[1]) for place in environment_reads(planted, root=tmp_path))
    assert lines == [3, 4, 5]


def settings_variables() -> set[str]:
    tree = ast.parse(SETTINGS.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.match(node.value)
    }


def test_every_variable_settings_reads_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    names = settings_variables()
    assert {"VAULT_ADDR", "LOG_LEVEL", "AUDIT_RETENTION_DAYS", "WEB_CONCURRENCY", "MIRAGE_DATA_DIR"} <= names
    assert sorted(name for name in names if f"`{name}`" not in table) == []
