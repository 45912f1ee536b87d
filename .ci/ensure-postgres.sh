#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl, createdb) are installed, for the throwaway server the
# test suite starts (tests/conftest.py). Installs Debian's packages with apt-get only when they are missing, so it
# is cheap to run every time. Quiet on success; prints the binaries' directory with -v.
set -euo pipefail

find_bindir() {
    local dir
    if [ -n "${STREAMRT_PG_BINDIR:-}" ] && [ -x "$STREAMRT_PG_BINDIR/initdb" ]; then
        echo "$STREAMRT_PG_BINDIR"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1; then
        dir=$(dirname "$(command -v initdb)")
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/createdb" ]; then
            echo "$dir"
            return 0
        fi
    fi
    # Debian keeps server binaries off PATH, one directory per major version; take the newest.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/createdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

verbose=0
[ "${1:-}" = "-v" ] && verbose=1

if ! bindir=$(find_bindir); then
    # The tests start their own server; do not let the package create and start a default cluster.
    bash "$(dirname "$0")/apt-install.sh" \
        --write /etc/postgresql-common/createcluster.d/streamrt.conf "create_main_cluster = false" \
        --or "ensure-postgres: PostgreSQL server binaries are missing and apt-get is not available; install PostgreSQL and set STREAMRT_PG_BINDIR to its bin directory" \
        postgresql
    if ! bindir=$(find_bindir); then
        echo "ensure-postgres: installed the postgresql package but found no initdb" >&2
        exit 1
    fi
fi

if [ "$verbose" -eq 1 ]; then
    echo "$bindir"
fi
