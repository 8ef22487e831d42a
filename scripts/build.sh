#!/usr/bin/env bash
# Configures and builds fednode in build/ (or $FEDNODE_BUILD_DIR). Extra arguments go to cmake.
# Quiet: one progress line (on a terminal) and one line at the end; a failed build prints its
# whole output. FEDNODE_VERBOSE_BUILD=1 shows everything as it comes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
"$root/scripts/setup-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDNODE_WERROR=ON "$@" >/dev/null
jobs=${FEDNODE_JOBS:-2}
if [[ ${FEDNODE_VERBOSE_BUILD:-0} == 1 ]]; then
  exec cmake --build "$build" -j"$jobs"
fi
log=$build/build.log
started=$SECONDS
tty=0
[[ -t 1 ]] && tty=1
set +e
cmake --build "$build" -j"$jobs" 2>&1 | tee "$log" | while IFS= read -r line; do
  if [[ $tty == 1 && $line =~ ^\[\ *([0-9]+)%\]\ (Building|Linking) ]]; then
    printf '\rbuilding fednode: %3s%% ' "${BASH_REMATCH[1]}"
  fi
done
status=${PIPESTATUS[0]}
set -e
[[ $tty == 1 ]] && printf '\r\033[K'
if [[ $status -ne 0 ]]; then
  cat "$log" >&2
  echo "build.sh: the build failed (its whole output is above, and in $log)" >&2
  exit "$status"
fi
echo "build.sh: fednode built in $((SECONDS - started)) s ($build; output in $log)"
