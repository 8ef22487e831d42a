#!/usr/bin/env bash
# Raft's timing over slow, lossy paths, for real: 3 keyed hosts on the testbed, each sending
# with RTT/2 ms of delay (jitter RTT/10) and losing PCT % of what it receives. Per case: the time
# to the first leader; key-value write latency (sequential `fednode ctl set` through the leader,
# each a new process and a new sealed connection, as an operator's script sees it); the
# elections during a quiet minute of writes (the term, before and after); and a failover: the
# leader killed with -9 and the time until a write through the new leader commits.
# The hour-long version of the quiet minute runs in the Raft simulation
# (tests/raft/sim/network_timing_test.cpp, build/raft-network-timing). Needs root.
#   bench/testbed-wan.sh [--network lan,wan] [--rtt 50,100,200] [--loss 0,1,5] [--quiet S] [--writes N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
networks=lan,wan rtts=50,100,200 losses=0,1,5 quiet=60 writes=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --network) networks=$2; shift 2 ;;
    --rtt) rtts=$2; shift 2 ;;
    --loss) losses=$2; shift 2 ;;
    --quiet) quiet=$2; shift 2 ;;
    --writes) writes=$2; shift 2 ;;
    *) echo "testbed-wan.sh: unknown option '$1' (see the top of the script)" >&2; exit 2 ;;
  esac
done
for v in quiet writes; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "testbed-wan.sh: --$v '${!v}' is not a whole number" >&2; exit 2; }
done
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
[[ -x $bin ]] || { echo "testbed-wan.sh: no $bin (scripts/build.sh)" >&2; exit 1; }
# shellcheck source=../tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=../tests/testbed/lib.sh
source "$root/tests/testbed/lib.sh"
# shellcheck source=../tests/testbed/peers.sh
source "$root/tests/testbed/peers.sh"
why=$(tb_can_run) || { echo "testbed-wan.sh: $why" >&2; exit 1; }
export TB_DELAY_QUEUE=$(dirname "$bin")/fednode-delay-queue

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# ctl status from host ASK: "ADDR ROLE TERM COMMIT APPLIED ..." per member; the leader's row.
leader_row() { tbp_ctl "$1" status 2>/dev/null | awk '$2 == "Leader"' | head -1; }

run_case() {  # NETWORK RTT LOSS
  local network=$1 rtt=$2 loss=$3 work i t0 row lead term0 term1 lat=() failover
  work=$(mktemp -d /tmp/fednode-wan.XXXXXX)
  TBP_BIN=$bin TBP_WORK=$work TBP_N=3
  TBP_KEYS=()
  TBP_FLAGS=(--rounds 0 --network "$network")
  tb_init 3
  for i in 1 2 3; do
    [[ $rtt -gt 0 ]] && tb_delay "$i" "$((rtt / 2)):$((rtt / 10))"
    [[ "$loss" != 0 ]] && tb_loss "$i" "$loss"
  done
  t0=$(now)
  tbp_start_all
  row=""
  for _ in $(seq 1 600); do row=$(leader_row 1); [[ -n "$row" ]] && break; sleep 0.1; done
  [[ -n "$row" ]] || { echo "testbed-wan.sh: no leader in 60 s ($network, $rtt ms, $loss %); logs in $work" >&2; tb_cleanup; return 1; }
  local first_leader
  first_leader=$(since "$t0")
  lead=$(tbp_host_of "$(awk '{print $1}' <<<"$row")")
  term0=$(awk '{print $3}' <<<"$row")
  for i in $(seq 1 "$writes"); do
    t0=$(now)
    tbp_ctl "$lead" set "w$i" v >/dev/null 2>>"$work/writes.err" || echo "write $i failed" >>"$work/writes.err"
    lat+=("$(since "$t0")")
  done
  local sorted median worst
  sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
  median=$(sed -n "$(((writes + 1) / 2))p" <<<"$sorted")
  worst=$(tail -1 <<<"$sorted")
  # The quiet minute: a write every half second, no faults but the path's.
  local end=$((SECONDS + quiet)) n=0
  while [[ $SECONDS -lt $end ]]; do
    n=$((n + 1))
    tbp_ctl "$lead" set "q$n" v >/dev/null 2>>"$work/writes.err" || echo "quiet write $n failed" >>"$work/writes.err"
    sleep 0.5
  done
  row=$(leader_row 1)
  term1=$(awk '{print $3}' <<<"$row")
  local still
  still=$(tbp_host_of "$(awk '{print $1}' <<<"$row")")
  # The failover: kill -9 the leader, then write through whichever survivor leads.
  tb_kill "$lead" KILL
  t0=$(now)
  failover="none(60)"
  local ask=1 next
  [[ $lead -eq 1 ]] && ask=2
  while awk -v t0="$t0" -v now="$(now)" 'BEGIN { exit !(now - t0 < 60) }'; do
    row=$(leader_row "$ask")
    next=$([[ -n "$row" ]] && tbp_host_of "$(awk '{print $1}' <<<"$row")" || echo "")
    if [[ -n "$next" && "$next" != "$lead" ]] && tbp_ctl "$next" set after-failover v >/dev/null 2>&1; then
      failover=$(since "$t0")
      break
    fi
    sleep 0.05
  done
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$network" "$rtt" "$loss" "$first_leader" "$median" "$worst" \
    "$quiet" "$((term1 - term0))" "$([[ $still == "$lead" ]] && echo same || echo changed)" "$failover"
  tb_cleanup
  [[ -s "$work/writes.err" ]] && echo "testbed-wan.sh: $(wc -l <"$work/writes.err") failed writes ($network, $rtt ms, $loss %): $(sort "$work/writes.err" | uniq -c | sort -rn | head -2)" >&2
  rm -rf "$work"
}

printf "network\trtt_ms\tloss_pct\tfirst_leader_s\twrite_median_s\twrite_max_s\tquiet_s\telections_in_quiet\tleader_after_quiet\tfailover_s\n"
IFS=, read -ra nets <<<"$networks"
IFS=, read -ra rr <<<"$rtts"
IFS=, read -ra ll <<<"$losses"
for network in "${nets[@]}"; do
  for rtt in "${rr[@]}"; do
    for loss in "${ll[@]}"; do run_case "$network" "$rtt" "$loss" || true; done
  done
done
