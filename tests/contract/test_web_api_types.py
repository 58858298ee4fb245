"""The web UI's API types are generated from the service's own OpenAPI schema and kept current:
this fails when `web/src/api/schema.d.ts` no longer matches what `/schema` serves (`make web-types`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from entrypoints.http.openapi_dump import openapi_schema_json

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


def test_generated_api_types_match_the_schema(tmp_path):
    if not GENERATOR.exists() or shutil.which("node") is None:
        pytest.fail("web/node_modules is missing: run `make install` (npm ci)")
    schema = tmp_path / "openapi.json"
    schema.write_bytes(openapi_schema_json())
    generated = tmp_path / "schema.d.ts"
    subprocess.run([str(GENERATOR), str(schema), "-o", str(generated)], cwd=WEB, check=True, capture_output=True)
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text()
    assert generated.read_text() == committed, "web/src/api/schema.d.ts is out of date: run `make web-types`"
