"""Print the service's OpenAPI schema (what `/schema/openapi.json` serves) without a server.

`make web-types` feeds it to openapi-typescript for the web UI's API types; a test regenerates
those types the same way and fails when the committed file no longer matches.
Usage: `python -m entrypoints.http.openapi_dump [OUTPUT_FILE]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from litestar._openapi.plugin import OpenAPIPlugin
from litestar.serialization import encode_json

from entrypoints.http.app import create_app
from entrypoints.settings import (
    AuthSettings,
    CacheSettings,
    DatabaseSettings,
    RedisSettings,
    ServerSettings,
    Settings,
    VaultSettings,
)


def openapi_schema_json() -> bytes:
    # The schema depends only on the routes, never on where the servers are: placeholder
    # settings build the app without connecting to anything (the container is made at startup).
    placeholder = Settings(
        vault=VaultSettings(addr="http://127.0.0.1:8200", token="unused"),
        database=DatabaseSettings(url="sqlite+aiosqlite:///unused"),
        redis=RedisSettings(),
        auth=AuthSettings(issuer="unused", audience="unused", public_key_file="unused"),
        cache=CacheSettings(),
        server=ServerSettings(),
    )
    app = create_app(settings=placeholder)
    # The document as served: with `refine_openapi`'s corrections, which live on the plugin's copy.
    return encode_json(app.plugins.get(OpenAPIPlugin).provide_openapi_schema())


def main(argv: list[str]) -> int:
    payload = openapi_schema_json()
    if len(argv) > 1:
        Path(argv[1]).write_bytes(payload)
    else:
        sys.stdout.buffer.write(payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
