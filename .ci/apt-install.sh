#!/usr/bin/env bash
# Install Debian packages with apt-get, quietly: the one apt bootstrap the .ci/ensure-*.sh scripts share (each
# calls it only when what it needs is missing). Runs apt-get as root, or through `sudo -n` when not root.
#
#   .ci/apt-install.sh [--or MESSAGE] [--write FILE LINE] [--stop SERVICE] [--recommends] PACKAGE...
#
#   --or MESSAGE       what to print (on stderr, exit 1) when apt-get is not available
#   --write FILE LINE  write LINE to FILE before installing (a package's setting that must precede it)
#   --stop SERVICE     disable and stop SERVICE if the package started it (the tests start their own servers)
#   --recommends       install the packages' recommended packages too (off by default)
set -euo pipefail

missing="apt-install: apt-get is not available"
stop=()
writes=()
recommends="--no-install-recommends"
while [ $# -gt 0 ]; do
    case "$1" in
        --or) missing="$2"; shift 2 ;;
        --write) writes+=("$2" "$3"); shift 3 ;;
        --stop) stop+=("$2"); shift 2 ;;
        --recommends) recommends=""; shift ;;
        --) shift; break ;;
        -*) echo "apt-install: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "apt-install: name the packages to install" >&2
    exit 2
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$missing" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive

for ((i = 0; i < ${#writes[@]}; i += 2)); do
    $sudo mkdir -p "$(dirname "${writes[i]}")"
    echo "${writes[i + 1]}" | $sudo tee "${writes[i]}" >/dev/null
done
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086  # $recommends is one flag or none
$sudo apt-get install -y -qq $recommends "$@" >/dev/null
for service in ${stop[@]+"${stop[@]}"}; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
        $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
done
