#!/usr/bin/env bash
# Make sure node and npm are installed (Debian's packages, with apt-get, only when missing) and that the MCP peers
# the tests run (tests/node/package.json: the official TypeScript SDK and server-everything, exact versions, locked
# in tests/node/package-lock.json) are installed in tests/node/node_modules, which git ignores. Cheap when
# everything is there; quiet on success. Tests that need these peers skip with a reason when node is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    bash .ci/apt-install.sh \
        --or "ensure-node: node/npm are missing and apt-get is not available; install Node.js 18 or later" \
        nodejs npm
fi

stamp=tests/node/node_modules/.streamrt-installed
if [ ! -f "$stamp" ] || [ tests/node/package.json -nt "$stamp" ] || [ tests/node/package-lock.json -nt "$stamp" ]; then
    if [ -f tests/node/package-lock.json ]; then
        npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
    else
        npm install --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
    fi
    touch "$stamp"
fi
