"""The test tree keeps its own rules: every test file carries the marker of its layer, and no test
module imports another (shared pieces live in conftest.py, tests/support and tests/fakes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "contract", "integration", "api", "e2e")


def layer_test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def layer_marker(path: Path) -> str | None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            value = node.value
            if isinstance(value, ast.Attribute) and ast.unparse(value.value) == "pytest.mark":
                return value.attr
    return None


def test_every_test_file_is_marked_with_its_layer() -> None:
    files = layer_test_files()
    assert len(files) > 40
    # In a layer's directory, that layer; elsewhere (tests/ops), one of the layers.
    wrong = {
        str(path.relative_to(TESTS)): layer_marker(path)
        for path in files
        if layer_marker(path) not in LAYERS
        or (path.relative_to(TESTS).parts[0] in LAYERS and layer_marker(path) != path.relative_to(TESTS).parts[0])
    }
    assert wrong == {}


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in layer_test_files() + sorted(TESTS.rglob("conftest.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "tests" and len(parts) > 1 and parts[1] not in ("support", "fakes"):
                    offenders.append(f"{path.relative_to(TESTS)} imports {node.module}")
    assert offenders == []
