#!/usr/bin/env bash
# Builds the previous release's fednode binary (for the upgrade tests) from this repository's
# history into build/previous-release/ (or $FEDNODE_BUILD_DIR/previous-release/) and prints its
# path. Built once: a later call with the binary in place prints the path and does nothing.
# The previous release is tag v0.1.0 (its commit is named below too, for a clone without tags);
# a release bumps both, and tests/upgrade/fixture is then written again (docs/upgrades.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${FEDNODE_BUILD_DIR:-$root/build}")
tag=v0.1.0
commit=6510b5a8ef8370f6aac0f92c55d81d2633f4b1a8
out=$build/previous-release
if [[ -x $out/build/fednode && "$(cat "$out/commit" 2>/dev/null)" == "$commit" ]]; then
  echo "$out/build/fednode"
  exit 0
fi
git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null || {
  echo "build-previous-release.sh: this checkout lacks $tag ($commit): the upgrade tests need the repository's history (a full git clone)" >&2
  exit 1
}
rm -rf "$out"
mkdir -p "$out/src"
git -C "$root" archive "$commit" | tar -x -C "$out/src"
log=$out/build.log
echo "building fednode $tag for the upgrade tests (a few minutes; log: $log)" >&2
if ! { cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDNODE_BUILD_TESTS=OFF &&
  cmake --build "$out/build" -j"${FEDNODE_JOBS:-2}" --target fednode; } >"$log" 2>&1; then
  tail -30 "$log" >&2
  echo "build-previous-release.sh: building $tag failed (log: $log)" >&2
  exit 1
fi
echo "$commit" >"$out/commit"
echo "$out/build/fednode"
