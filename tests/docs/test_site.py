"""The docs site builds without a warning, and the README links every guide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # runs the mkdocs CLI; no servers

REPO = Path(__file__).resolve().parents[2]
GUIDES = [
    "docs/user/index.md",
    "docs/admin/index.md",
    "docs/dev/index.md",
    "docs/api/index.md",
    "docs/problems/index.md",
    "docs/troubleshooting.md",
    "docs/security.md",
]


def test_make_docs_builds_strictly(tmp_path):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    build = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert "WARNING" not in build.stderr, build.stderr[-3000:]
    assert (tmp_path / "site" / "problems" / "secret-not-found" / "index.html").exists()


def test_the_readme_links_each_guide_and_every_link_resolves():
    readme = (REPO / "README.md").read_text()
    links = set(re.findall(r"\]\(((?:docs/)[^)#\s]+)", readme))
    missing = [guide for guide in GUIDES if guide not in links]
    assert not missing, f"the README does not link {missing}"
    broken = sorted(link for link in links if not (REPO / link).exists())
    assert not broken, f"the README links files that do not exist: {broken}"
