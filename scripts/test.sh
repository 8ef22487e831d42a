#!/usr/bin/env bash
# Installs missing dependencies, builds with warnings as errors, runs every test through ctest,
# and ends with one summary line (passed, failed, skipped, each skip with its reason).
# Extra arguments go to ctest (e.g. scripts/test.sh -R Raft).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
"$root/scripts/build.sh"
cd "$build"
set +e
ctest --output-on-failure -j"${FEDNODE_JOBS:-2}" "$@" 2>&1 | tee "$build/ctest-console.txt"
rc=${PIPESTATUS[0]}
set -e
echo
python3 "$root/scripts/test_summary.py" "$build" "$build/ctest-console.txt" || true
exit "$rc"
