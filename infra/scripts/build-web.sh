#!/usr/bin/env bash
# Build the web UI (web/) into src/entrypoints/http/ui_dist, which the service serves at /ui.
# Quick when nothing changed: `npm ci` runs only when package-lock.json changed, the build only
# when a source file did (a hash of web/'s sources is kept next to the build output).
# SKIP_WEB_BUILD=1 skips it (the API works without the page; /ui then says how to build it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ "${SKIP_WEB_BUILD:-0}" == "1" ]]; then
    echo "web: skipped (SKIP_WEB_BUILD=1)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

# Node.js >= 18 from Debian's packages where it is missing, as for PostgreSQL.
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        node -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)'
}
if ! node_ok; then
    echo "web: installing Node.js and npm (Debian packages)"
    $SUDO apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    node_ok || { echo "web: Node.js >= 18 is required, found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
fi

OUT=src/entrypoints/http/ui_dist
lock_hash="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
if [[ ! -f web/node_modules/.lock-hash || "$(cat web/node_modules/.lock-hash)" != "$lock_hash" ]]; then
    echo "web: npm ci"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > web/node_modules/.lock-hash
fi

source_hash="$(
    find web/index.html web/package-lock.json web/tsconfig.json web/vite.config.ts web/src -type f -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)"
if [[ -f "$OUT/index.html" && -f "$OUT/.source-hash" && "$(cat "$OUT/.source-hash")" == "$source_hash" ]]; then
    exit 0
fi
echo "web: building the UI into $OUT"
(cd web && npm run --silent build -- --logLevel warn)
echo "$source_hash" > "$OUT/.source-hash"
