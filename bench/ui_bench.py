"""The web UI's weight and first render.

    .venv/bin/python bench/ui_bench.py [--runs 5] [--url http://127.0.0.1:8000]

- Initial JavaScript + CSS: every script, module preload and stylesheet `index.html` names,
  gzipped (level 9, what a server would send), summed; the budget is 150 KB.
- First render: Debian's chromium (headless, Playwright), a fresh context per run, from
  navigation start until the sign-in form is on screen (and first-contentful-paint). Without
  --url it serves the build output at /ui from a local static server on a free port, so it
  measures the page itself, not the API; with --url it opens that instance's /ui.
Reports the median and the worst of --runs.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import re
import shutil
import statistics
import sys
import threading
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from entrypoints.settings import DEFAULT_UI_DIST_DIR  # noqa: E402

BUDGET_BYTES = 150 * 1024


def initial_assets(dist: Path) -> list[Path]:
    html = (dist / "index.html").read_text()
    names = re.findall(r'<(?:script|link)[^>]+(?:src|href)="/ui/(assets/[^"]+\.(?:js|css))"', html)
    return [dist / name for name in names]


def gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


class _UiOnly(http.server.SimpleHTTPRequestHandler):
    """/ui and /ui/assets/* from the build output, like the service serves them; 404 otherwise."""

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path in ("/ui", "/ui/"):
            return str(Path(self.directory) / "index.html")
        if path.startswith("/ui/assets/"):
            return str(Path(self.directory) / path.removeprefix("/ui/"))
        return str(Path(self.directory) / "__missing__")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A context closed mid-response (the favicon, after the measurement) is not a failure.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def first_render_ms(url: str, runs: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is missing: apt-get install chromium")
    ready, paint = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            for _ in range(runs + 1):  # the first run warms the browser process and is dropped
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/ui", wait_until="commit")
                page.get_by_role("heading", name="Sign in").wait_for()
                ready.append(page.evaluate("() => performance.now()"))
                fcp = page.evaluate(
                    "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"
                )
                paint.append(fcp if fcp is not None else float("nan"))
                context.close()
        finally:
            browser.close()
    return ready[1:], paint[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="a running instance (default: the build output on a local static server)")
    parser.add_argument("--dist", type=Path, default=DEFAULT_UI_DIST_DIR)
    args = parser.parse_args()
    if not (args.dist / "index.html").is_file():
        raise SystemExit(f"no build at {args.dist}: run `make install`")

    assets = initial_assets(args.dist)
    print("initial assets (gzip -9):")
    total = 0
    for asset in assets:
        size = gzipped_size(asset)
        total += size
        print(f"  {asset.name:32} {asset.stat().st_size / 1024:7.1f} KB raw  {size / 1024:6.1f} KB gzipped")
    verdict = "within" if total < BUDGET_BYTES else "OVER"
    print(f"  total initial JS+CSS: {total / 1024:.1f} KB gzipped ({verdict} the {BUDGET_BYTES // 1024} KB budget)")

    server = None
    url = args.url
    if url is None:
        server = _QuietServer(("127.0.0.1", 0), partial(_UiOnly, directory=str(args.dist)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ready, paint = first_render_ms(url, args.runs)
    finally:
        if server is not None:
            server.shutdown()
    print(f"first render ({args.runs} runs, {url}/ui, headless chromium):")
    print(f"  sign-in form on screen: median {statistics.median(ready):.0f} ms, worst {max(ready):.0f} ms")
    print(f"  first contentful paint: median {statistics.median(paint):.0f} ms, worst {max(paint):.0f} ms")
    return 0 if total < BUDGET_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
