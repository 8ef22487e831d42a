#!/usr/bin/env bash
# Installs missing dependencies, builds with warnings as errors, runs every test through ctest.
# Extra arguments go to ctest (e.g. scripts/test.sh -R Raft).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j"${FEDNODE_JOBS:-2}" "$@"
