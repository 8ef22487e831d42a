#!/usr/bin/env bash
# Failover on the namespace testbed: kill -9 of the aggregator's host process while a round
# trains, TRIALS times; each time, the delay from the kill to the next round_start that another
# aggregator gets committed (the first survivor to apply it, on the machine's monotonic clock,
# which the namespaces share). The killed host restarts from its data dir and catches up before
# the next trial. Prints every trial and p50, p99, max.
#   bench/testbed-failover.sh [--hosts N] [--trials T] [--dataset D] [-- FEDNODE FLAGS]
# Writes runs/testbed-failover-<time>/ with failover.txt. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hosts=4
trials=30
dataset=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed-failover.sh: unknown option '$1' (--hosts N, --trials T, --dataset D, -- FLAGS)" >&2; exit 2 ;;
  esac
done
[[ "$hosts" =~ ^[3-9]$ ]] || { echo "testbed-failover.sh: --hosts must be 3..9" >&2; exit 2; }
[[ "$trials" =~ ^[1-9][0-9]*$ ]] || { echo "testbed-failover.sh: --trials '$trials' is not a positive number" >&2; exit 2; }
source "$root/tests/cluster/lib.sh"
source "$root/tests/testbed/lib.sh"
source "$root/tests/testbed/peers.sh"
tbp_prepare_experiment testbed-failover "$dataset"
TBP_WORK=$out
TBP_N=$hosts
TBP_FLAGS=(--rounds 100000 --torch-threads 1 "${data[@]}" "${extra[@]}")
tb_init "$hosts"
tbp_start_all
tbp_wait_rounds any 1 300 || { echo "testbed-failover.sh: no first round; see $out" >&2; exit 1; }

all_events() { local k; for k in $(seq 1 "$hosts"); do tbp_events "$k"; done; }
# kill -9 that prints the machine's monotonic time (ms) at the kill, as the events' mono_ms.
kill_stamped() { python3 -c 'import os, signal, sys, time; t = time.monotonic(); os.kill(int(sys.argv[1]), signal.SIGKILL); print(int(t * 1000))' "$1"; }

results=()
for trial in $(seq 1 "$trials"); do
  # Wait for a round in training that started after the last trial's recovery.
  since=$(python3 -c 'import time; print(int(time.monotonic() * 1000))')
  victim=""
  for _ in $(seq 600); do
    # shellcheck disable=SC2046
    t=$(events_py first training "$since" $(all_events))
    if [[ $t -gt 0 ]]; then
      for k in $(seq 1 "$hosts"); do
        [[ $(events_py first training "$since" "$(tbp_events "$k")") -gt 0 ]] && { victim=$(tbp_current_aggregator "$k"); break; }
      done
      break
    fi
    sleep 0.1
  done
  [[ -n "$victim" ]] || { echo "trial $trial: no round went into training" >&2; break; }
  sleep "0.$((RANDOM % 5))"  # somewhere in the round, not always at its start
  killed_at=$(kill_stamped "${TB_PID[$victim]}")
  wait "${TB_PID[$victim]}" 2>/dev/null || true
  TB_PID[$victim]=""
  next=-1
  for _ in $(seq 300); do
    # shellcheck disable=SC2046
    next=$(events_py first-other round_start "$killed_at" "$(tbp_addr "$victim")" $(all_events))
    [[ $next -gt 0 ]] && break
    sleep 0.1
  done
  if [[ $next -le 0 ]]; then echo "trial $trial: no round_start within 30 s of the kill" | tee -a "$out/failover.txt"; break; fi
  ms=$((next - killed_at))
  results+=("$ms")
  echo "trial $trial: killed host $victim (aggregator), next round_start after $ms ms" | tee -a "$out/failover.txt"
  tbp_start "$victim"
  # It catches up (log and models) before the next kill: the group commits a round it takes part in.
  goal=$(( $(tbp_max_committed) + 1 ))
  tbp_wait_rounds "$victim" "$goal" 120 || { echo "testbed-failover.sh: host $victim did not catch up" >&2; break; }
done

printf '%s\n' "${results[@]}" | sort -n | awk -v n="$hosts" '
  { v[NR] = $1 }
  END {
    if (NR == 0) { print "no trial completed"; exit 1 }
    p50 = v[int((NR + 1) / 2)]; i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
    printf "failover on %d testbed hosts, kill -9 of the aggregator -> next round_start committed, %d trials: p50 %d ms, p99 %d ms, max %d ms, min %d ms\n", n, NR, p50, v[i99], v[NR], v[1]
  }' | tee -a "$out/failover.txt"
