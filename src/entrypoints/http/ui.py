"""`/ui`: the credentials settings page, a static single-page app built from `web/` by `make install`.

The page is a pure client of the REST API: nothing here reads or writes a secret. Invariants:
- `index.html` is never cached (`no-store`), so a deploy is picked up at the next load; the hashed
  assets it names are immutable and cached for a year.
- Every answer carries a strict Content-Security-Policy: same-origin scripts, styles and fetches
  only, no inline code, no third-party origin, no framing.
- Without a build the page answers a clear 503 saying how to build it, never a 500.
- The development sign-in (`/ui/dev-session`) exists only in development mode (`mirage-secrets
  dev`); production settings cannot turn it on, and without it the path is a plain 404.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from litestar import MediaType, Response, Router, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import File

from adapters.identity.dev_keys import issue_token
from entrypoints.settings import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"

# Vite names every asset `<name>-<hash>.<ext>`; nothing else (no path separators) is served.
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_.-]+-[A-Za-z0-9_-]{8,}\.(js|css|svg|png|woff2)$")
_MEDIA_TYPES = {
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
    "woff2": "font/woff2",
}

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mirage Secrets: the web UI is not built</title></head>
<body><main><h1>The web UI is not built</h1>
<p>This service has no built settings page at <code>{dist}</code>.
Run <code>make install</code> in the repository (it runs <code>npm ci</code> and the build), then reload.</p>
<p>The REST API under <code>/api/v1</code> works without it.</p></main></body></html>
"""

DEV_SUBJECT = "dev-user"


def _settings(state: State) -> Settings:
    return state.container.settings


def _dist(state: State) -> Path:
    return Path(_settings(state).ui.dist_dir)


@get(["/", "/settings"], include_in_schema=False, sync_to_thread=False)
def ui_index(state: State) -> Response:
    index = _dist(state) / "index.html"
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    if not index.is_file():
        page = NOT_BUILT_PAGE.format(dist=_dist(state))
        return Response(page, status_code=503, media_type=MediaType.HTML, headers=headers)
    return Response(index.read_bytes(), media_type=MediaType.HTML, headers=headers)


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def ui_asset(state: State, name: Annotated[str, PathParameter(max_length=128)]) -> File:
    match = _ASSET_NAME.fullmatch(name)
    path = _dist(state) / "assets" / name
    if match is None or not path.is_file():
        raise NotFoundException(f"no asset {name!r}")
    return File(
        path,
        content_disposition_type="inline",
        media_type=_MEDIA_TYPES[match.group(1)],
        headers={**SECURITY_HEADERS, "Cache-Control": IMMUTABLE},
    )


@get("/dev-session", include_in_schema=False, sync_to_thread=False)
def dev_session_offer() -> dict[str, str]:
    """Tells the page that the development sign-in exists (it is a 404 everywhere else)."""
    return {"subject": DEV_SUBJECT}


@post("/dev-session", include_in_schema=False, sync_to_thread=False, status_code=200)
def dev_session(state: State, admin: Annotated[bool, QueryParameter()] = False) -> Response:
    """The same token `mirage-secrets dev-token dev-user [--admin]` prints."""
    key_file = _settings(state).ui.dev_signing_key_file
    if key_file is None or not Path(key_file).is_file():
        raise NotFoundException("no development signing key")
    token = issue_token(Path(key_file), DEV_SUBJECT, admin=admin)
    return Response({"token": token, "subject": DEV_SUBJECT}, headers={"Cache-Control": "no-store"})


def ui_router(*, dev_mode: bool) -> Router:
    handlers = [ui_index, ui_asset]
    if dev_mode:
        handlers += [dev_session_offer, dev_session]
    return Router(path="/ui", route_handlers=handlers)
