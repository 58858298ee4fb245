"""The hexagon holds: domain and services import no frameworks, vendors or outer layers."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def _layer_rules() -> dict[str, frozenset[str]]:
    """What each inner layer may not import, read from import-linter's contracts in pyproject.toml:
    every layer outside it, and (for the forbidden contract's sources) every listed vendor."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = (c["layers"] for c in contracts if c["type"] == "layers")
    (vendors,) = (c for c in contracts if c["type"] == "forbidden")
    rules = {}
    for position, layer in enumerate(layers):
        forbidden = set(layers[:position])
        if layer in vendors["source_modules"]:
            forbidden |= set(vendors["forbidden_modules"])
        if forbidden and layer in vendors["source_modules"]:
            rules[layer] = frozenset(forbidden)
    return rules


FORBIDDEN = _layer_rules()


def _module_name(path: Path, src: Path) -> tuple[str, bool]:
    """Dotted module name of a file under `src`, and whether it is a package `__init__`."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imported_modules(path: Path, src: Path) -> set[str]:
    """Every absolute module name a file imports, with relative imports resolved."""
    module, is_package = _module_name(path, src)
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                prefix = ".".join(base)
                target = ".".join(part for part in (prefix, node.module) if part)
                if node.module is None:  # `from . import x`: x may be a module
                    found.update(f"{prefix}.{alias.name}" if prefix else alias.name for alias in node.names)
            else:
                target = node.module or ""
            if target:
                found.add(target)
    return found


def violations(layer: str, src: Path = SRC) -> list[str]:
    problems = []
    for path in sorted((src / layer).rglob("*.py")):
        for name in sorted(imported_modules(path, src)):
            if name.split(".")[0] in FORBIDDEN[layer]:
                problems.append(f"{path.relative_to(src)} imports {name}")
    return problems


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_inner_layers_import_nothing_forbidden(layer: str) -> None:
    assert list((SRC / layer).rglob("*.py")), f"no sources found under src/{layer}"
    assert violations(layer) == []


# -- the checker itself --------------------------------------------------------------------------


def _plant(tmp_path: Path, layer: str, relative: str, source: str) -> Path:
    target = tmp_path / layer / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    for parent in [target.parent, *target.parent.parents]:
        if parent == tmp_path:
            break
        (parent / "__init__.py").touch()
    target.write_text(source)
    return target


@pytest.mark.parametrize(
    ("layer", "source", "flagged"),
    [
        ("domain", "import litestar\n", "litestar"),
        ("domain", "import sqlalchemy.orm\n", "sqlalchemy.orm"),
        ("domain", "from jwt import decode\n", "jwt"),
        ("domain", "from cryptography.hazmat import backends\n", "cryptography.hazmat"),
        ("domain", "from services.secret_service import SecretService\n", "services.secret_service"),
        ("domain", "def f():\n    import hvac\n", "hvac"),
        ("services", "import adapters.vault.hvac_vault\n", "adapters.vault.hvac_vault"),
        ("services", "from entrypoints import settings\n", "entrypoints"),
        ("services", "from ..adapters.db import models\n", "adapters.db"),
        ("services", "from .. import entrypoints\n", "entrypoints"),
    ],
)
def test_checker_flags_a_planted_bad_import(tmp_path: Path, layer: str, source: str, flagged: str) -> None:
    _plant(tmp_path, layer, "planted.py", source)
    assert violations(layer, src=tmp_path) == [f"{layer}/planted.py imports {flagged}"]


def test_checker_resolves_relative_imports_inside_the_layer(tmp_path: Path) -> None:
    path = _plant(tmp_path, "services", "sub/mod.py", "from . import sibling\nfrom ..secret_service import X\n")
    assert imported_modules(path, tmp_path) == {"services.sub", "services.sub.sibling", "services.secret_service"}
    assert violations("services", src=tmp_path) == []


def test_checker_allows_domain_imports_in_services(tmp_path: Path) -> None:
    _plant(tmp_path, "services", "ok.py", "import asyncio\nfrom domain.errors import InvalidInput\n")
    assert violations("services", src=tmp_path) == []


def test_the_rule_read_from_pyproject_covers_both_inner_layers() -> None:
    assert set(FORBIDDEN) == {"domain", "services"}
    assert {"litestar", "hvac", "services", "adapters", "entrypoints"} <= FORBIDDEN["domain"]
    assert "services" not in FORBIDDEN["services"] and {"adapters", "httpx"} <= FORBIDDEN["services"]
