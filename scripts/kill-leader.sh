#!/usr/bin/env bash
# Kills (SIGKILL) the current Raft leader, i.e. the aggregator, of a run started by
# scripts/run.sh, to demonstrate failover: another peer takes over and training goes on from
# the last committed round. The kill time (Unix ms) and peer are appended to RUN_DIR/kills.
#   scripts/kill-leader.sh [RUN_DIR]      (default: the newest run of scripts/run.sh with a live peer)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The newest runs/* (by time, not name: testbed and example runs sort apart) that has a peers
# file and a peer still running.
live_run() {
  local d pf
  while read -r d; do
    [[ -f "$d/peers" ]] || continue
    for pf in "$d"/node-*.pid; do
      [[ -f "$pf" ]] && kill -0 "$(cat "$pf")" 2>/dev/null && { echo "${d%/}"; return; }
    done
  done < <(ls -td "$root"/runs/*/ 2>/dev/null)
}
run_dir=${1:-$(live_run)}
run_dir=${run_dir%/}
[[ -n "$run_dir" && -f "$run_dir/peers" ]] || { echo "kill-leader.sh: no run of scripts/run.sh with a live peer under $root/runs (start scripts/run.sh first, or name RUN_DIR)" >&2; exit 1; }
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
while read -r peer; do
  pidfile="$run_dir/node-${peer##*:}.pid"
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null || continue
  if "$bin" ctl "$peer" diagnostic 2>/dev/null | grep -q '"status":"Leader"'; then
    kill -9 "$(cat "$pidfile")"
    echo "$(date +%s%3N) $peer" >>"$run_dir/kills"
    echo "kill-leader.sh: killed the aggregator $peer (pid $(cat "$pidfile")) at $(date +%T.%N | cut -c1-12)"
    exit 0
  fi
done <"$run_dir/peers"
echo "kill-leader.sh: no live leader found among $(tr '\n' ' ' <"$run_dir/peers")" >&2
exit 1
