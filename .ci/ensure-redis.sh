#!/usr/bin/env bash
# Make sure redis-server (7 or newer: the cluster keeps its event log in Redis streams and its leases in Lua scripts) is installed, for
# the throwaway servers the cluster tests start (tests/cluster/conftest.py). Installs Debian's package with apt-get
# only when it is missing, so it is cheap to run every time. Quiet on success; prints the binary's path with -v.
set -euo pipefail

find_server() {
    local bin="${STREAMRT_REDIS_SERVER:-}"
    if [ -z "$bin" ]; then
        bin=$(command -v redis-server 2>/dev/null || true)
    fi
    [ -n "$bin" ] && [ -x "$bin" ] || return 1
    # "Redis server v=7.0.15 sha=..." -> 7
    local major
    major=$("$bin" --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
    [ -n "$major" ] && [ "$major" -ge 7 ] || return 1
    echo "$bin"
}

verbose=0
[ "${1:-}" = "-v" ] && verbose=1

if ! bin=$(find_server); then
    # The tests start their own servers; the package's own service is stopped again if the package started one.
    bash "$(dirname "$0")/apt-install.sh" --stop redis-server \
        --or "ensure-redis: redis-server 7 or newer is missing and apt-get is not available; install it and set STREAMRT_REDIS_SERVER to its path" \
        redis-server
    if ! bin=$(find_server); then
        echo "ensure-redis: installed the redis-server package but found no redis-server 7 or newer" >&2
        exit 1
    fi
fi

if [ "$verbose" -eq 1 ]; then
    echo "$bin"
fi
