#!/usr/bin/env bash
# How long a wiped node takes to catch up over a lossy, slow network: 3 keyed hosts on the
# testbed, every host sending with DELAY ms and losing PCT % of the packets it receives (IP
# fragments one by one); N key-value writes of
# B bytes; then host 3 is killed, its data dir wiped (its key kept) and it is started again; the
# time until it has applied everything the leader had committed is the catch-up. With
# --snapshot-entries small the leader's log is compacted and the wiped node installs a snapshot
# first (the log says so). Prints one TSV line per run: the settings, seconds, and the Raft bytes
# the leader sent meanwhile. Needs root (scripts/setup-deps.sh for iputils-ping and
# libnetfilter-queue-dev; scripts/build.sh).
#   bench/testbed-catchup.sh [--entries N] [--value-bytes B] [--loss PCT] [--delay MS]
#                            [--snapshot-entries K] [--drop-fragments] [--repeat R] [--timeout S]
#                            [-- EXTRA FEDNODE FLAGS]
# --drop-fragments: every host drops IP fragments, as many internet paths do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
entries=2000 value_bytes=500 loss=1 delay=10 snapshot_entries=100000000 repeat=1 timeout=300 extra=() fragments=pass
while [[ $# -gt 0 ]]; do
  case "$1" in
    --entries) entries=$2; shift 2 ;;
    --value-bytes) value_bytes=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --snapshot-entries) snapshot_entries=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --drop-fragments) fragments=dropped; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed-catchup.sh: unknown option '$1' (see the top of the script)" >&2; exit 2 ;;
  esac
done
for v in entries value_bytes repeat timeout snapshot_entries delay; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "testbed-catchup.sh: --${v//_/-} '${!v}' is not a whole number" >&2; exit 2; }
done
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
[[ -x $bin ]] || { echo "testbed-catchup.sh: no $bin (scripts/build.sh)" >&2; exit 1; }
# shellcheck source=../tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=../tests/testbed/lib.sh
source "$root/tests/testbed/lib.sh"
# shellcheck source=../tests/testbed/peers.sh
source "$root/tests/testbed/peers.sh"
why=$(tb_can_run) || { echo "testbed-catchup.sh: $why" >&2; exit 1; }
export TB_DELAY_QUEUE=$(dirname "$bin")/fednode-delay-queue

# ctl status from host ASK: "ADDR ROLE TERM COMMIT APPLIED RAFT_IN RAFT_OUT ..." per member.
status_of() { tbp_ctl "$1" status 2>/dev/null | awk -v a="$2" '$1 == a'; }
leader_row() { tbp_ctl "$1" status 2>/dev/null | awk '$2 == "Leader"'; }

run_once() {
  local work value i t0 target applied row leader_out0 leader_out1 snap
  work=$(mktemp -d /tmp/fednode-catchup.XXXXXX)
  TBP_BIN=$bin TBP_WORK=$work TBP_N=3
  TBP_KEYS=()  # keys of this run's hosts, made under its own work dir
  TBP_FLAGS=(--rounds 0 --snapshot-entries "$snapshot_entries" "${extra[@]}")
  tb_init 3
  for i in 1 2 3; do
    [[ $delay -gt 0 ]] && tb_delay "$i" "$delay"
    [[ "$loss" != 0 ]] && tb_loss "$i" "$loss"
    [[ $fragments == dropped ]] && tb_drop_fragments "$i" on
  done
  tbp_start_all
  for _ in $(seq 1 300); do [[ -n "$(leader_row 1)" ]] && break; sleep 0.2; done
  [[ -n "$(leader_row 1)" ]] || { echo "testbed-catchup.sh: no leader; logs in $work" >&2; return 1; }
  value=$(head -c "$value_bytes" /dev/zero | tr '\0' v)
  # Written through the leader with its own key (a node's key is an operator of that node only).
  local writer
  writer=$(tbp_host_of "$(leader_row 1 | awk '{print $1}')")
  local writers=()
  for i in $(seq 1 "$entries"); do
    tbp_ctl "$writer" set "key$i" "$value" 2>&1 | grep -v '^ok$' >>"$work/writes.err" &
    writers+=($!)
    if (( ${#writers[@]} == ${CATCHUP_WRITERS:-16} )); then wait "${writers[@]}" || true; writers=(); fi
  done
  [[ ${#writers[@]} -eq 0 ]] || wait "${writers[@]}" || true
  # The victim is a follower (a wiped leader would be an election, not a catch-up); the other
  # follower answers the status queries.
  local lead victim ask
  lead=$(tbp_host_of "$(leader_row 1 | awk '{print $1}')")
  victim=3
  [[ $lead -eq 3 ]] && victim=2
  ask=$((6 - lead - victim))
  tb_kill "$victim" KILL
  rm -rf "$work/d$victim"
  for _ in $(seq 1 100); do
    row=$(leader_row "$ask")
    [[ -n "$row" ]] && break
    sleep 0.1
  done
  [[ -n "$row" ]] || { echo "testbed-catchup.sh: no leader after the kill; logs in $work" >&2; tb_cleanup; return 1; }
  target=$(awk '{print $4}' <<<"$row")
  leader_out0=$(awk '{print $7}' <<<"$row")
  t0=$(date +%s.%N)
  tbp_start "$victim"
  applied=0
  while awk -v t0="$t0" -v now="$(date +%s.%N)" -v lim="$timeout" 'BEGIN { exit !(now - t0 < lim) }'; do
    applied=$(status_of "$ask" "$(tbp_addr "$victim")" | awk '{print $5}')
    [[ -n "$applied" && "$applied" -ge "$target" ]] && break
    sleep 0.1
  done
  local t1 secs
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  leader_out1=$(awk '{print $7}' <<<"$(leader_row "$ask")")
  snap=no
  grep -q "installed a snapshot from the leader" "$work/log$victim" && snap=yes
  [[ -n "$applied" && "$applied" -ge "$target" ]] || secs="timeout(${timeout})"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$entries" "$value_bytes" "$loss" "$delay" "$fragments" "${extra[*]:-default}" \
    "$snap" "$target" "$secs" "$((leader_out1 - leader_out0))"
  tb_cleanup
  [[ -s "$work/writes.err" ]] && { echo "testbed-catchup.sh: $(wc -l < "$work/writes.err") writes failed, e.g.: $(sort "$work/writes.err" | uniq -c | sort -rn | head -3)" >&2; }
  rm -rf "$work"
}

printf "entries\tvalue_bytes\tloss_pct\tdelay_ms\tfragments\tflags\tsnapshot\tcommit\tcatchup_s\tleader_raft_bytes_out\n"
for _ in $(seq 1 "$repeat"); do run_once; done
