#!/usr/bin/env bash
# A rolling upgrade of a running group loses nothing (issue 35, item 6):
#   rolling_upgrade_test.sh PREVIOUS_FEDNODE FEDNODE
# A 3-node keyed group of the previous release trains a run of 20 rounds while a writer sets keys
# w1, w2, ... one after another through whichever node leads. One node at a time, followers first
# and the leader last, is stopped (SIGTERM) and started again on its own data dir with this
# binary, and the next one waits until it has caught up. Then:
#   - every write the group acknowledged, before, during and after the upgrade, is on every node
#     (each node in turn leads and answers the whole store);
#   - the run finishes: 20 rounds, the same model ids on every node, none committed twice.
# Between the releases the Raft channel interoperates, the TCP channels do not (0.2's Noise
# handshake): while versions are mixed a round whose trainer runs the other version waits for its
# deadline and is run again, and the writer talks to each node with its own version's ctl.
set -euo pipefail
old=$1 bin=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=lib.sh
source "$root/tests/upgrade/lib.sh"
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || {
  echo "SKIP: the run trains on Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  exit 77
}
if [[ ! -x "$old" ]]; then
  if ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    echo "SKIP: no previous release's binary at $old, and no git history here to build it from (a full clone has it)"
    exit 77
  fi
  echo "FAIL: no previous release's binary at $old: scripts/build-previous-release.sh builds it (scripts/test.sh runs it first)" >&2
  exit 1
fi
start_workspace
use_keys "$root/tests/testdata/node-keys" "$n"
run_args=("${fl_common[@]}" --rounds 20 --deadline-s 5)
# Which version node I runs: $work/version-I (a file, which the background writer reads too).
for i in 0 1 2; do echo old >"$work/version-$i"; done
binary_of() { if [[ $(cat "$work/version-$1") == old ]]; then echo "$old"; else echo "$bin"; fi; }
for i in 0 1 2; do start_node "$old" "$i" "${run_args[@]}"; done

# The leader, asked of each node with the ctl of its own version.
leader_now() {
  local i a k
  for i in 0 1 2; do
    a=$(ctl_as "$i" "$(binary_of "$i")" status 2>/dev/null | awk '$2 == "Leader" { print $1 }' | head -1)
    [[ -n "$a" ]] || continue
    for k in 0 1 2; do [[ "$(addr "$k")" == "$a" ]] && { echo "$k"; return 0; }; done
  done
  return 1
}
has_leader() { leader_now >/dev/null; }
wait_for 30 "the previous release's group elected no leader" has_leader

# The writer: w1, w2, ... in order, each until acknowledged (through the leader, with the ctl of
# the leader's version); the acknowledged ones are appended to $work/acked.
writer() {
  local k=1 l b
  while [[ ! -e $work/stop-writer ]]; do
    l=$(leader_now) || { sleep 0.2; continue; }
    b=$(binary_of "$l")
    if timeout 10 "$b" ctl --key-file "$(key_file "$l")" "$(addr "$l")" set "w$k" "v$k" >/dev/null 2>&1; then
      echo "w$k v$k" >>"$work/acked"
      k=$((k + 1))
    fi
    sleep 0.05
  done
}
: >"$work/acked"
writer &
writer_pid=$!
extra_pids=("$writer_pid")
trap 'touch "$work/stop-writer"; kill "${extra_pids[@]}" 2>/dev/null || true; cleanup_workspace' EXIT
some_rounds() { [[ $(committed_rounds "$old" "$(leader_now)" | wc -l) -ge 2 ]]; }
wait_for 180 "the previous release's group committed fewer than 2 rounds" some_rounds
echo "previous release: $(committed_rounds "$old" "$(leader_now)" | wc -l) rounds, $(wc -l <"$work/acked") writes acknowledged"

# A log index of node I's diagnostic page (commitIndex, lastApplied), asked with its version's ctl.
# (A follower's `get` is redirected to the leader, which may speak the other version.)
index_of() {
  ctl_as "$1" "$(binary_of "$1")" diagnostic 2>/dev/null | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}
# Caught up: node I has applied the log up to INDEX.
caught_up() { local a; a=$(index_of "$1" lastApplied); [[ -n "$a" && $a -ge $2 ]]; }
l=$(leader_now)
order=()
for i in 0 1 2; do [[ $i -ne $l ]] && order+=("$i"); done
order+=("$l")
for i in "${order[@]}"; do
  kill -TERM "${pids[$i]}"
  wait "${pids[$i]}" || true
  echo new >"$work/version-$i"
  start_node "$bin" "$i" "${run_args[@]}"
  wait_for 10 "node $i did not migrate its data dir" grep -q "data dir format 1 migrated to 2" "$work/log$i"
  wait_for 60 "the group has no leader after node $i was upgraded" has_leader
  acked_before=$(wc -l <"$work/acked")
  more_acked() { [[ $(wc -l <"$work/acked") -gt $acked_before ]]; }
  wait_for 60 "no write was acknowledged after node $i was upgraded" more_acked
  l=$(leader_now) && target=$(index_of "$l" commitIndex) || target=""
  [[ -n "$target" ]] || fail "no commit index from the leader after node $i was upgraded"
  wait_for 60 "node $i did not catch up after its upgrade (to index $target)" caught_up "$i" "$target"
  l=$(leader_now) || l=$i
  echo "node $i upgraded and caught up ($(wc -l <"$work/acked") writes acknowledged, $(committed_rounds "$(binary_of "$l")" "$l" | wc -l) rounds committed so far)"
done
sleep 3
touch "$work/stop-writer"
wait "$writer_pid" || true
[[ $(wc -l <"$work/acked") -ge 20 ]] || fail "only $(wc -l <"$work/acked") writes were acknowledged in all"

wait_for 300 "the upgraded group did not finish the run (20 rounds, the same ids on every node)" rounds_agree "$bin" 20
[[ $(cut -d' ' -f2 "$work/rounds-0.txt" | sort -u | wc -l) -eq 20 ]] || fail "a model id was committed twice"
# Each node in turn leads and answers the store (a follower's get is the leader's answer).
sort "$work/acked" >"$work/acked-sorted"
for i in 0 1 2; do
  leads() { [[ "$(leader_now)" == "$1" ]]; }
  if ! leads "$i"; then ctl_as "$(leader_now)" "$bin" transfer-leader "$(addr "$i")" >/dev/null || true; fi
  wait_for 20 "node $i did not take the leadership" leads "$i"
  kv_of "$bin" "$i" | grep '^w' | sort >"$work/kv-$i.txt"
  missing=$(comm -23 "$work/acked-sorted" "$work/kv-$i.txt" | wc -l)
  [[ $missing -eq 0 ]] || fail "node $i lacks $missing acknowledged write(s): $(comm -23 "$work/acked-sorted" "$work/kv-$i.txt" | head -3 | tr '\n' ' ')"
done
echo "all $(wc -l <"$work/acked") acknowledged writes on every node; 20 rounds, the same ids on every node"
echo "PASS"
