#!/usr/bin/env bash
# A data dir that fills (issue 35, item 5), keys on:   disk_full_test.sh FEDNODE_BINARY
# A 3-peer group whose node 1 keeps its data dir on a 64 MiB tmpfs the test mounts, and a
# single-node group with its data dir on the same tmpfs; --min-free-bytes 24 MiB everywhere.
# Node 1 is made leader, and a file then leaves the tmpfs 8 MiB:
#   - the single node refuses writes with one line naming its data dir, the space and the option,
#     and still answers reads;
#   - node 1 hands its leadership to a peer; writes through the new leader commit while node 1
#     takes no entries (it stays behind);
# The file removed, both say so and take writes again by themselves, node 1 catches up, and the
# single node, restarted, comes back clean with every write it acknowledged.
# Skipped (77) where the test cannot mount a tmpfs (it needs root).
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
start_workspace
mkdir -p "$work/small"
if ! mount -t tmpfs -o size=64m,mode=0700 tmpfs "$work/small" 2>"$work/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for a small data dir: $(cat "$work/mount.err")"
  exit 77
fi
cleanup_disk_test() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  umount "$work/small" 2>/dev/null || umount -l "$work/small" 2>/dev/null || true
  cleanup_workspace
}
trap cleanup_disk_test EXIT

n=4  # 0-2 the group, 3 the single node
mapfile -t all_ports < <(free_ports $((2 * n)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n}")
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
reserve=$((24 << 20))
data_dir() { if [[ $1 -eq 1 || $1 -eq 3 ]]; then echo "$work/small/d$1"; else echo "$work/d$1"; fi; }
start() {  # i
  local i=$1 others=()
  if [[ $i -lt 3 ]]; then
    for j in 0 1 2; do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  fi
  "$bin" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --data-dir "$(data_dir "$i")" \
    --data-port "${dports[$i]}" --rounds 0 --min-free-bytes "$reserve" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
for i in 0 1 2 3; do start "$i"; done
ctl_as() { local i=$1; shift; "$bin" ctl --key-file "$(key_file "$i")" "$(addr "$i")" "$@"; }
index_of() { local i; for i in 0 1 2 3; do if [[ "$(addr "$i")" == "$1" ]]; then echo "$i"; fi; done; }
leader() {  # the group's leader as node 0 sees it, by index
  local a
  a=$(ctl_as 0 status 2>/dev/null | awk '$2 == "Leader" { print $1 }' | head -1)
  if [[ -n "$a" ]]; then index_of "$a"; fi
}
row_of() { ctl_as "$1" status 2>/dev/null | awk -v a="$(addr "$2")" '$1 == a'; }
has_leader() { [[ -n "$(leader)" ]]; }
wait_for 20 "no leader in the group" has_leader
wait_for 20 "the single node does not lead itself" eval 'ctl_as 3 status 2>/dev/null | grep -q Leader'

l=$(leader)
if [[ $l -ne 1 ]]; then ctl_as "$l" transfer-leader "$(addr 1)" >/dev/null || fail "transfer-leader to node 1 refused"; fi
is_leader_1() { [[ "$(leader)" == 1 ]]; }
wait_for 10 "node 1 did not become leader" is_leader_1
for k in 1 2 3 4 5; do
  ctl_as 1 set "before$k" "v$k" >/dev/null || fail "write before$k through node 1 failed"
  ctl_as 3 set "before$k" "v$k" >/dev/null || fail "write before$k through the single node failed"
done

# Fill the tmpfs to 8 MiB short.
avail=$(df --output=avail -B1 "$work/small" | tail -1)
fallocate -l $((avail - (8 << 20))) "$work/small/filler"
said_low() { grep -q "below --min-free-bytes 24 MiB: this node takes no writes" "$work/log$1"; }
wait_for 5 "node 1 did not say its disk is low" said_low 1
wait_for 5 "the single node did not say its disk is low" said_low 3

# The single node: a write is refused with the reason; a read is served.
out=$(ctl_as 3 set during x 2>&1) && fail "the single node took a write with its disk low: $out"
grep -q "data dir $work/small/d3 has [0-9]* MiB free, below --min-free-bytes 24 MiB" <<<"$out" ||
  fail "the single node's refusal does not say why: $out"
got=$(ctl_as 3 get 2>&1) || fail "the single node does not serve reads with its disk low: $got"
[[ "$got" == *'"before3":"v3"'* ]] || fail "the single node's store lacks before3=v3: $got"

# The group: node 1 hands over; writes go on through the new leader; node 1 takes no entries.
not_leader_1() { local x; x=$(leader); [[ -n "$x" && "$x" != 1 ]]; }
wait_for 10 "node 1 kept the leadership with its disk low" not_leader_1
grep -q "handing leadership to .*: this node's disk is low" "$work/log1" || fail "node 1 did not say why it handed over"
l=$(leader)
for k in 1 2 3 4 5 6 7 8; do ctl_as "$l" set "during$k" "w$k" >/dev/null || fail "write during$k through node $l failed"; done
commit=$(row_of "$l" "$l" | awk '{print $4}')
applied1=$(row_of "$l" 1 | awk '{print $5}')
[[ -n "$applied1" && $applied1 -lt $commit ]] || fail "node 1 applied $applied1 of $commit with its disk low"

# Space returns: both take writes again by themselves; node 1 catches up.
rm -f "$work/small/filler"
said_back() { grep -q "free again: taking writes" "$work/log$1"; }
wait_for 5 "node 1 did not notice the space came back" said_back 1
wait_for 5 "the single node did not notice the space came back" said_back 3
ctl_as 3 set after y >/dev/null || fail "the single node refuses writes after the space came back"
caught_up() { local a; a=$(row_of "$l" 1 | awk '{print $5}'); [[ -n "$a" && $a -ge $commit ]]; }
wait_for 15 "node 1 did not catch up after the space came back" caught_up

# The single node restarts clean with what it acknowledged.
kill -TERM "${pids[3]}"
wait "${pids[3]}" || true
start 3
wait_for 20 "the restarted single node does not lead itself" eval 'ctl_as 3 status 2>/dev/null | grep -q Leader'
got=$(ctl_as 3 get 2>&1) || fail "the restarted single node cannot be read: $got"
for kv in before1=v1 before5=v5 after=y; do
  [[ "$got" == *"\"${kv%%=*}\":\"${kv#*=}\""* ]] || fail "the restarted single node lost ${kv%%=*}=${kv#*=}: $got"
done
grep -q "cannot write\|cannot fdatasync" "$work"/log[0-3] && fail "a node met a write error: $(grep -h "cannot write\|cannot fdatasync" "$work"/log[0-3] | head -2)"
echo "PASS: a full data dir stopped writes with a clear line, reads went on, leadership moved, and everything resumed by itself"
