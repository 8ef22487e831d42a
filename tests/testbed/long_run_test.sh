#!/usr/bin/env bash
# The long run, short (issue 35, item 7): bench/long-run.sh with 5 keyed hosts at 100 ms RTT and
# 1 % loss, 40 rounds of the tabular example, the nemesis acting every 4 s (kill, pause, cut,
# restart, full disk, skewed clock). It fails unless every host ends with all 40 rounds and the
# same model ids, no node stopped by itself, and 10 s after the run no node's RSS, files or threads
# is beyond the bound over their median after round 8.
#   long_run_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export FEDNODE_BUILD_DIR=$1
# shellcheck source=lib.sh
source "$root/tests/testbed/lib.sh"
why=$(tb_can_run) || { echo "SKIP: $why"; exit 77; }
/usr/bin/python3 -c 'import torch, numpy, sklearn' 2>/dev/null ||
  { echo "SKIP: the tabular example needs /usr/bin/python3 with torch, numpy and sklearn (scripts/setup-deps.sh)"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seed=${FEDNODE_LONG_RUN_SEED:-$RANDOM}
echo "nemesis seed $seed (FEDNODE_LONG_RUN_SEED=$seed repeats this run's nemesis)"
if ! "$root/bench/long-run.sh" --rounds 40 --hosts 5 --rtt 100 --loss 1 --nemesis-every 4 --sample-every 2 \
  --seed "$seed" --out "$out"; then
  echo "== nemesis"; cat "$out/nemesis.tsv" 2>/dev/null
  for f in "$out"/log*-nemesis.txt; do echo "== $f"; grep -v " info " "$f" | tail -8; tail -3 "$f"; done
  echo "FAIL: the long run (short) failed"
  exit 1
fi
cat "$out/nemesis.tsv"
echo "PASS"
