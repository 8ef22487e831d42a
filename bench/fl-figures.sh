#!/usr/bin/env bash
# Figures of a federated run directory (scripts/run.sh's runs/<time>/), from the nodes' events:
#   per round: round time (round_start proposed -> round_commit), the slowest trainer's local
#   training time, and the overhead of everything else (data plane, aggregation, evaluation,
#   Raft) in % of the slowest training;
#   per kill recorded by scripts/kill-leader.sh: failover time, kill -> next round_start committed;
#   bytes sent per round on the Raft, client and data-plane channels (via scripts/plot.sh's data).
#   bench/fl-figures.sh RUN_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run_dir=${1:?usage: fl-figures.sh RUN_DIR}
"$root/scripts/plot.sh" "$run_dir" >/dev/null
events=$(find "$run_dir" -name events.jsonl | sort)

# shellcheck disable=SC2086
cat $events | awk '
  function num(key,   m) { if (match($0, "\"" key "\":[-0-9.e+]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
  /"event":"update_received"/ { r = num("round"); s = num("train_seconds"); if (s > slow[r]) slow[r] = s }
  /"event":"round_commit"/ { r = num("round"); if (!(r in t)) { t[r] = (num("end_ms") - num("start_ms")) / 1000; n++ } }
  END {
    printf "%5s %10s %14s %9s\n", "round", "round (s)", "slowest (s)", "overhead"
    for (r = 1; r <= n; r++) {
      if (!(r in t)) continue
      o = slow[r] > 0 ? 100 * (t[r] - slow[r]) / slow[r] : 0
      printf "%5d %10.2f %14.2f %8.1f%%\n", r, t[r], slow[r], o
      if (slow[r] > 0) { sum_t += t[r]; sum_s += slow[r]; k++ }
    }
    if (k) printf "mean  %10.2f %14.2f %8.1f%%  (rounds with a measured training time: %d)\n", sum_t / k, sum_s / k, 100 * (sum_t - sum_s) / sum_s, k
  }'

if [[ -f "$run_dir/kills" ]]; then
  while read -r kill_ms peer; do
    # shellcheck disable=SC2086
    next=$(cat $events | grep '"event":"round_start"' | awk -v k="$kill_ms" '
      { match($0, /"ts":[0-9]+/); ts = substr($0, RSTART + 5, RLENGTH - 5) + 0; if (ts > k && (best == 0 || ts < best)) best = ts }
      END { printf "%.0f\n", best }')
    if [[ "$next" -gt 0 ]]; then
      echo "failover after killing $peer: $((next - kill_ms)) ms to the next committed round_start"
    else
      echo "failover after killing $peer: no round_start after the kill"
    fi
  done <"$run_dir/kills"
fi

awk '{ raft += $2; client += $3; data += $4; n++ }
  END { if (n) printf "bytes sent per round (all nodes, %d rounds): Raft UDP %.0f, client TCP %.0f, data plane TCP %.0f (data/Raft = %.0fx)\n", n, raft / n, client / n, data / n, (raft ? data / raft : 0) }' "$run_dir/traffic.dat"
