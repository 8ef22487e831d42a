#!/usr/bin/env bash
# Configures and builds fednode in build/ (or $FEDNODE_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
"$root/scripts/setup-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDNODE_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"${FEDNODE_JOBS:-2}"
