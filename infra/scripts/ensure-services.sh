#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer,
# installing and starting them if needed. Idempotent; one line per service.
# For dev/CI machines only: a fresh PostgreSQL gets trust auth on 127.0.0.1.
# SKIP_SERVICE_CHECK=1 skips everything (e.g. services provided elsewhere).
set -euo pipefail

if [[ "${SKIP_SERVICE_CHECK:-0}" == "1" ]]; then
    echo "services: skipped (SKIP_SERVICE_CHECK=1)"
    exit 0
fi

WAIT_SECONDS=30
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

apt_updated=0
apt_install() {
    if [[ "$apt_updated" == "0" ]]; then
        $SUDO apt-get update -qq >/dev/null
        apt_updated=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

postgres_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

redis_up() {
    [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]
}

# wait_for NAME CHECK_FN HINT: poll until CHECK_FN succeeds or WAIT_SECONDS pass.
wait_for() {
    local name=$1 check=$2 hint=$3 i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        if "$check"; then
            return 0
        fi
        sleep 0.5
    done
    echo "ensure-services: $name did not answer on 127.0.0.1 within ${WAIT_SECONDS}s; $hint" >&2
    exit 1
}

pg_version() {
    # Highest installed major version, e.g. "15".
    { ls /etc/postgresql 2>/dev/null || true; } | sort -n | tail -n 1
}

ensure_postgres() {
    if postgres_up; then
        echo "postgres: ok (already running on 127.0.0.1:5432)"
        return
    fi
    local action="started"
    if [[ -z "$(pg_version)" ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
        apt_install postgresql
        local hba
        hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
        # Prepend so these win over the packaged scram/peer rules (first match wins).
        $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        action="installed and started"
    fi
    local version
    version="$(pg_version)"
    # The package may have started the cluster already; start is then a no-op error.
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
    wait_for postgres postgres_up "see /var/log/postgresql/postgresql-$version-main.log"
    echo "postgres: ok ($action, cluster $version/main)"
}

ensure_redis() {
    if command -v redis-cli >/dev/null 2>&1 && redis_up; then
        echo "redis: ok (already running on 127.0.0.1:6379)"
        return
    fi
    local action="started"
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server
        action="installed and started"
    fi
    if ! redis_up; then
        $SUDO mkdir -p /var/lib/redis /var/log/redis
        # No persistence: this instance only backs dev runs and tests.
        $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
            --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    wait_for redis redis_up "see /var/log/redis/ci.log"
    echo "redis: ok ($action)"
}

# The registry login tests run Debian's real docker-registry with an htpasswd file (htpasswd -B);
# the alert tests run promtool (Debian's prometheus package); the backup tests run pg_dump;
# the browser tests run Debian's chromium.
ensure_test_tools() {
    local missing=()
    [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
    # The browser tests drive Debian's chromium (never a downloaded Playwright browser).
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
        echo "test tools: installed ${missing[*]}"
    else
        echo "test tools: ok (docker-registry, htpasswd, promtool, pg_dump, chromium)"
    fi
}

ensure_postgres
ensure_redis
ensure_test_tools
