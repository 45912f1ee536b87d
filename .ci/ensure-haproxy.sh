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
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ensure-haproxy: haproxy is missing and apt-get is not available; install it and set" \
             "STREAMRT_HAPROXY to its path" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo -n"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    # The tests start their own haproxy; the package's own service is stopped again if the package started one.
    $sudo apt-get install -y -qq --no-install-recommends haproxy >/dev/null
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet haproxy 2>/dev/null; then
        $sudo systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi
    if ! bin=$(find_haproxy); then
        echo "ensure-haproxy: installed the haproxy package but found no haproxy" >&2
        exit 1
    fi
fi

if [ "$verbose" -eq 1 ]; then
    echo "$bin"
fi
