#!/usr/bin/env bash
# Make sure haproxy is installed, for the load balancer the multi-node harness puts in front of its three
# `streamrt serve` nodes (tests/cluster/harness.py). Installs Debian's package with apt-get only when it is missing,
# so it is cheap to run every time. Quiet on success; prints the binary's path with -v.
set -euo pipefail

find_haproxy() {
    local bin="${STREAMRT_HAPROXY:-}"
    if [ -z "$bin" ]; then
        bin=$(command -v haproxy 2>/dev/null || true)
        [ -z "$bin" ] && [ -x /usr/sbin/haproxy ] && bin=/usr/sbin/haproxy
    fi
    [ -n "$bin" ] && [ -x "$bin" ] || return 1
    echo "$bin"
}

verbose=0
[ "${1:-}" = "-v" ] && verbose=1

if ! bin=$(find_haproxy); then
    # The tests start their own haproxy; the package's own service is stopped again if the package started one.
    bash "$(dirname "$0")/apt-install.sh" --stop haproxy \
        --or "ensure-haproxy: haproxy is missing and apt-get is not available; install it and set STREAMRT_HAPROXY to its path" \
        haproxy
    if ! bin=$(find_haproxy); then
        echo "ensure-haproxy: installed the haproxy package but found no haproxy" >&2
        exit 1
    fi
fi

if [ "$verbose" -eq 1 ]; then
    echo "$bin"
fi
