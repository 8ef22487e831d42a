#!/usr/bin/env bash
# Installs missing dependencies, builds with warnings as errors, runs every test through ctest,
# and ends with one summary line (passed, failed, skipped, each skip with its reason).
# Extra arguments go to ctest (e.g. scripts/test.sh -R Raft).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
"$root/scripts/build.sh"
# The previous release, for the upgrade tests (built once, a few minutes): with no ctest arguments,
# or when asked (FEDNODE_PREVIOUS_RELEASE=1). Should it fail, RollingUpgradeLosesNothing says why.
if [[ $# -eq 0 || ${FEDNODE_PREVIOUS_RELEASE:-0} == 1 ]]; then
  "$root/scripts/build-previous-release.sh" >/dev/null || true
fi
cd "$build"
set +e
ctest --output-on-failure -j"${FEDNODE_JOBS:-2}" "$@" 2>&1 | tee "$build/ctest-console.txt"
rc=${PIPESTATUS[0]}
set -e
echo
python3 "$root/scripts/test_summary.py" "$build" "$build/ctest-console.txt" || true
exit "$rc"
