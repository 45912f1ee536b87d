#!/usr/bin/env bash
# Make sure a headless Chromium is installed, for the status page's browser test (tests/serve/test_status_page.py).
# Installs Debian's `chromium` package with apt-get only when no chromium is on PATH, so it is cheap to run every
# time. Quiet on success; prints the browser's path with -v.
set -euo pipefail

find_browser() {
    for name in chromium chromium-browser; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if ! browser=$(find_browser); then
    bash "$(dirname "$0")/apt-install.sh" --recommends \
        --or "ensure-chromium: chromium is missing and apt-get is not available; install Chromium" chromium
    browser=$(find_browser)
fi
if [ "${1:-}" = "-v" ]; then
    echo "$browser"
fi
