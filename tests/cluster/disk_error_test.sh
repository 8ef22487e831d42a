#!/usr/bin/env bash
# A disk that fails its fdatasync with EIO (issue 35, item 5), keys on:
#   disk_error_test.sh FEDNODE_BINARY
# A single-node group runs under libfiu's POSIX preload (Debian's fiu-utils: fiu-run, fiu-ctrl),
# which makes fdatasync fail with EIO once enabled, as a dying disk does. Checked: writes before
# are acknowledged; once fdatasync fails, no write is acknowledged, and the node stops with one
# line that names the file and the error and says it takes no more writes; restarted without the
# fault it comes back clean, with every write it acknowledged, and takes writes again.
# Skipped (77) without fiu-run (scripts/setup-deps.sh installs fiu-utils).
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
if ! command -v fiu-run >/dev/null || ! command -v fiu-ctrl >/dev/null; then
  echo "SKIP: no fiu-run/fiu-ctrl (scripts/setup-deps.sh installs fiu-utils)"
  exit 77
fi
start_workspace
mapfile -t ports < <(free_ports 2)
addr() { echo "127.0.0.1:${ports[0]}"; }
make_keys 1
ctl() { "$bin" ctl --key-file "$(key_file 0)" "$(addr)" "$@"; }
start() {  # [fiu-run -x]
  "$@" "$bin" "$(addr)" --key-file "$(key_file 0)" --data-dir "$work/d0" --data-port "${ports[1]}" --rounds 0 \
    >>"$work/log0" 2>&1 &
  pids[0]=$!
}
leads() { ctl status 2>/dev/null | grep -q Leader; }
wait_leader() {
  local limit=$((SECONDS + 20))
  until leads; do
    [[ $SECONDS -lt $limit ]] || fail "the node does not lead itself after 20 s"
    sleep 0.2
  done
}
# fiu-run makes the control fifo /tmp/fiu-ctrl-PID (TMPDIR) for the process it runs.
export TMPDIR=$work
start fiu-run -x -f "$work/fiu-ctrl"
wait_leader
acked=()
for k in 1 2 3 4 5 6; do
  [[ "$(ctl set "k$k" "v$k" 2>&1)" == ok ]] || fail "write k$k failed before any fault"
  acked+=("k$k=v$k")
done

fiu-ctrl -f "$work/fiu-ctrl" -c "enable name=posix/io/sync/fdatasync,failinfo=5" "${pids[0]}" ||
  fail "fiu-ctrl could not reach the node"
# One at a time, then a burst: the first fails and stops the node (a leader's Ready of one entry is
# synced at once; the background thread's path is DiskFaults.ABackgroundSyncFailure... in
# tests/storage), the burst meets a node that is stopping or gone.
late=$(ctl set late1 x 2>&1 || true)
for k in 2 3 4 5 6 7 8 9; do (ctl set "late$k" x >"$work/late$k.out" 2>&1 || true) & done
wait_done() { local p; for p in $(jobs -p); do [[ $p == "${pids[0]}" ]] || wait "$p" || true; done; }
wait_done
for k in 2 3 4 5 6 7 8 9; do late+=$'\n'$(cat "$work/late$k.out"); done
grep -qx ok <<<"$late" && fail "a write was acknowledged after fdatasync began to fail: $late"
limit=$((SECONDS + 10))
while kill -0 "${pids[0]}" 2>/dev/null; do
  [[ $SECONDS -lt $limit ]] || fail "the node goes on after fdatasync failed"
  sleep 0.1
done
rc=0
wait "${pids[0]}" || rc=$?
[[ $rc -eq 1 ]] || fail "the node stopped with exit code $rc, not 1"
grep -Eq "critical cannot fdatasync $work/d0/raft/log-[0-9]+\.seg: Input/output error: the entries written since the last sync may not be on disk.*takes no more writes.*; stopping" "$work/log0" ||
  fail "the node did not say why it stopped: $(grep -E "critical|error" "$work/log0" | tail -3)"

# Restarted without the fault: clean, with what it acknowledged, and it takes writes.
start
wait_leader
store=$(ctl get 2>&1) || fail "the restarted node cannot be read: $store"
for kv in "${acked[@]}"; do
  [[ "$store" == *"\"${kv%%=*}\":\"${kv#*=}\""* ]] || fail "the restarted node lost ${kv%%=*}=${kv#*=}, which it acknowledged: $store"
done
[[ "$(ctl set after y 2>&1)" == ok ]] || fail "the restarted node refuses writes"
grep -q "refusing to start\|corrupt" "$work/log0" && fail "the restart met a damaged log: $(grep "refusing\|corrupt" "$work/log0" | head -2)"
echo "PASS: fdatasync's EIO stopped the node before any acknowledgement; it restarted clean with ${#acked[@]} acknowledged writes"
