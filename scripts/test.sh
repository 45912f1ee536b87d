#!/usr/bin/env bash
# Install everything the tests need (PostgreSQL, redis-server, HAProxy and Node.js from Debian's packages, the MCP peers of
# tests/node, the package with its dev extra: the test and lint tools) and run lint, type checks, the import layers
# (pyproject.toml, [tool.importlinter]) and the whole test suite. README.md prints this command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/ensure-postgres.sh
bash .ci/ensure-redis.sh
bash .ci/ensure-haproxy.sh
bash .ci/ensure-node.sh
bash .ci/ensure-chromium.sh
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/ruff check streamrt tests benchmarks examples editors
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
