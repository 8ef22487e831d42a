#!/usr/bin/env bash
# The long run (issue 35, item 7): a keyed group of --hosts nodes on the namespace testbed, every
# path --rtt ms (each host's sends wait RTT/2, jitter RTT/10) losing --loss % of packets,
# --network wan, trains --rounds rounds of the tabular example (scikit-learn's digits, each host
# its own party and the scripted MLP) while a nemesis, every --nemesis-every s, does one of these
# at random (seeded): kill -9 a host and start it again, pause one (SIGSTOP) and resume it,
# cut a minority off and heal, restart one (SIGTERM), fill a host's data dir (a tmpfs of its own)
# below --min-free-bytes and free it, restart one with its wall clock 5 minutes off (libfaketime)
# and later without. Every --sample-every s it records each node's RSS, open files, threads and
# data dir size. At the end:
#   - every host holds all the rounds, with the same model ids;
#   - the elections (terms) and what the nemesis did;
#   - no node stopped by itself (a host the nemesis did not stop found dead is a crash);
#   - no growth beyond retention: 10 s after the run, with the nemesis quiet, each node's RSS,
#     files and threads must be within 25 % + 16 MiB (files and threads: + 8) of their median in
#     the window after the first 100 rounds (a fifth of the run when it is shorter); in a clean
#     run (--compare-clean: no restarts) the same holds for the median of its last quarter;
#   - with --compare-clean, the same run without nemesis, delay or loss, and both accuracy curves.
# Writes OUT/samples.tsv, OUT/nemesis.tsv, OUT/rounds-<host>.tsv, OUT/accuracy.tsv, OUT/summary.txt
# and the nodes' logs; exits 1 when a check fails. Needs root and /usr/bin/python3 with torch,
# numpy and sklearn.
#   bench/long-run.sh [--rounds 1000] [--hosts 5] [--rtt 100] [--loss 1] [--nemesis-every 20]
#                     [--sample-every 10] [--seed 1] [--compare-clean] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=1000 hosts=5 rtt=100 loss=1 every=20 sample=10 seed=1 compare=0 out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --rtt) rtt=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    --nemesis-every) every=$2; shift 2 ;;
    --sample-every) sample=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --compare-clean) compare=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "long-run.sh: unknown option '$1' (see the top of the script)" >&2; exit 2 ;;
  esac
done
for v in rounds hosts rtt every sample seed; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || { echo "long-run.sh: --${v/every/nemesis-every} '${!v}' is not a positive whole number" >&2; exit 2; }
done
[[ "$loss" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "long-run.sh: --loss '$loss' is not a percentage" >&2; exit 2; }
[[ $hosts -ge 3 ]] || { echo "long-run.sh: --hosts $hosts: the nemesis needs at least 3" >&2; exit 2; }
build=${FEDNODE_BUILD_DIR:-$root/build}
bin=$build/fednode
[[ -x $bin && -x $build/fednode-delay-queue ]] || { echo "long-run.sh: build first (scripts/build.sh)" >&2; exit 1; }
# shellcheck source=../tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=../tests/testbed/lib.sh
source "$root/tests/testbed/lib.sh"
# shellcheck source=../tests/testbed/peers.sh
source "$root/tests/testbed/peers.sh"
why=$(tb_can_run) || { echo "long-run.sh: $why" >&2; exit 1; }
out=${out:-$root/runs/long-run-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/fednode-long-run.XXXXXX)
mounts=()
# tb_cleanup (the end of a phase, or any exit) calls this: the tmpfs data dirs go; the logs are
# kept in OUT; the scratch dir goes unless a phase ended normally (the next one needs the parties).
phase_done=0
tb_on_cleanup() {
  local m k
  for k in $(seq 1 "$hosts"); do [[ -f $work/run/log$k ]] && cp "$work/run/log$k" "$out/log$k-${phase:-run}.txt"; done
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  mounts=()
  [[ $phase_done -eq 1 ]] || rm -rf "$work"
}
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/examples/tabular/make_parties.py" "$work/parties" --parties "$hosts" >/dev/null
min_free=$((32 << 20))
export TB_DELAY_QUEUE=$build/fednode-delay-queue
export TB_DELAY_LOG=$work/delay-queue.log
TBP_BIN=$bin
TBP_N=$hosts

# One run: PHASE (nemesis | clean). Leaves $work/run/ with the data dirs and logs.
run_phase() {
  phase=$1
  local k
  TBP_WORK=$work/run
  rm -rf "$TBP_WORK"
  mkdir -p "$TBP_WORK"
  TBP_KEYS=()
  TBP_SKEW=()
  tb_init "$hosts"
  for k in $(seq 1 "$hosts"); do
    mkdir -p "$TBP_WORK/d$k"
    mount -t tmpfs -o size=256m,mode=0700 tmpfs "$TBP_WORK/d$k"
    mounts+=("$TBP_WORK/d$k")
    TBP_HOST_FLAGS[$k]="--data $work/parties/party-$k.npz"
  done
  TBP_FLAGS=(--rounds "$rounds" --torch-threads 1 --partition none --model "$work/parties/mlp.pt" --network wan
    --aggregator fedavg --lr 0.05 --local-epochs 1 --min-clients 2 --min-free-bytes "$min_free" --deadline-s 20
    --evaluate-every 10)
  if [[ $phase == nemesis ]]; then
    for k in $(seq 1 "$hosts"); do
      tb_delay "$k" "$((rtt / 2)):$((rtt / 10))"
      [[ $loss != 0 ]] && tb_loss "$k" "$loss"
    done
  fi
  tbp_start_all
  printf "seconds\tround\thost\trss_kib\tfiles\tthreads\tdata_dir_bytes\tpid\n" >"$out/samples-$phase.tsv"
  printf "seconds\tround\taction\thost\tdetail\n" >"$out/nemesis.tsv.$phase"
  local start=$SECONDS next_sample=$SECONDS next_nemesis=$((SECONDS + every)) limit=$((SECONDS + 600 + 20 * rounds))
  RANDOM=$seed
  undo=()  # what the nemesis must undo, as commands, with their times: "TIME CMD..."
  while :; do
    local r
    r=$(tbp_max_committed)
    [[ $r -ge $rounds ]] && break
    [[ $SECONDS -lt $limit ]] || { echo "long-run.sh: $phase: $r of $rounds rounds in $((SECONDS - start)) s" >&2; break; }
    if [[ $SECONDS -ge $next_sample ]]; then sample_all "$((SECONDS - start))" "$r" >>"$out/samples-$phase.tsv"; next_sample=$((SECONDS + sample)); fi
    run_undo "$((SECONDS - start))" "$r"
    find_crashes "$((SECONDS - start))" "$r"
    if [[ $phase == nemesis && $SECONDS -ge $next_nemesis && ${#undo[@]} -eq 0 ]]; then
      nemesis "$((SECONDS - start))" "$r"
      next_nemesis=$((SECONDS + every))
    fi
    sleep 1
  done
  # Everything undone, every host up and holding every round.
  while [[ ${#undo[@]} -gt 0 ]]; do run_undo "$((SECONDS - start))" "$(tbp_max_committed)" force; done
  for k in $(seq 1 "$hosts"); do tb_alive "$k" || tbp_start "$k"; done
  for k in $(seq 1 "$hosts"); do tbp_wait_rounds "$k" "$rounds" 300 || true; done
  find_crashes "$((SECONDS - start))" "$(tbp_max_committed)"
  sleep 3  # the last evaluations
  for k in $(seq 1 "$hosts"); do tbp_ctl "$k" rounds --tsv >"$out/rounds-$phase-$k.tsv" 2>/dev/null || true; done
  # The settled state, the nemesis quiet: what a leak would leave behind.
  sleep 10
  sample_all "final" "$(tbp_max_committed)" >>"$out/samples-$phase.tsv"
  elections=$(cat "$TBP_WORK"/d*/events.jsonl | /usr/bin/python3 -c '
import json, sys
terms = set()
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("event") == "leader_changed": terms.add(e.get("term"))
print(len(terms))')
  echo "$phase: $(tbp_max_committed) rounds in $((SECONDS - start)) s, $elections leader terms" | tee -a "$out/summary.txt"
  phase_done=1
  tb_cleanup
  set -e  # tb_cleanup runs from traps too, and turns errexit off
  phase_done=0
  phase=""
  trap 'rm -rf "$work"' EXIT
}

# A host that is down and that the nemesis is not keeping down stopped by itself: noted as a
# crash (the summary fails on it) and started again.
find_crashes() {  # SECONDS ROUND
  local k u held
  for k in $(seq 1 "$hosts"); do
    tb_alive "$k" && continue
    held=0
    for u in "${undo[@]}"; do [[ $u == *" start $k" ]] && held=1; done
    [[ $held -eq 1 ]] && continue
    note "$1" "$2" crash "$k" "found dead: $(tail -1 "$TBP_WORK/log$k" | cut -c1-200)"
    tbp_start "$k"
  done
}

sample_all() {  # SECONDS ROUND: one line per live node
  local k pid
  for k in $(seq 1 "$hosts"); do
    tb_alive "$k" || continue
    pid=${TB_PID[$k]}
    local rss threads files disk
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    threads=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    files=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    disk=$(du -sb --exclude=filler "$TBP_WORK/d$k" 2>/dev/null | cut -f1)
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$1" "$2" "$k" "${rss:-0}" "$files" "${threads:-0}" "${disk:-0}" "$pid"
  done
}

note() { printf "%s\t%s\t%s\t%s\t%s\n" "$@" >>"$out/nemesis.tsv.$phase"; }

# One action at random on a random host (a minority for a cut); what undoes it goes to undo[].
nemesis() {
  local t=$1 r=$2 k=$((RANDOM % hosts + 1)) action=$((RANDOM % 6)) hold=$((3 + RANDOM % 8)) l
  # A third of the time the host is the aggregator (the leader) as host k sees it.
  if [[ $((RANDOM % 3)) -eq 0 ]] && l=$(tbp_current_aggregator "$k") && [[ -n $l ]]; then k=$l; fi
  case $action in
    0) tb_kill "$k" KILL; note "$t" "$r" kill "$k" "kill -9, back in $hold s"; undo+=("$((SECONDS + hold)) start $k") ;;
    1) kill -STOP "${TB_PID[$k]}" 2>/dev/null || true; note "$t" "$r" pause "$k" "SIGSTOP for $hold s"; undo+=("$((SECONDS + hold)) cont $k") ;;
    2)
      local minority=() others=() j m=$(((hosts - 1) / 2))
      for j in $(seq 1 "$hosts"); do
        if [[ ${#minority[@]} -lt $m && $(((j + k) % hosts)) -lt $m ]]; then minority+=("$j"); else others+=("$j"); fi
      done
      tb_partition "${minority[*]}" "${others[*]}"
      note "$t" "$r" partition "${minority[*]// /,}" "cut off for $hold s"
      undo+=("$((SECONDS + hold)) heal")
      ;;
    3) tb_kill "$k" TERM; tbp_start "$k"; note "$t" "$r" restart "$k" "SIGTERM and start" ;;
    4)
      local avail
      avail=$(df --output=avail -B1 "$TBP_WORK/d$k" | tail -1)
      fallocate -l $((avail - min_free / 2)) "$TBP_WORK/d$k/filler" 2>/dev/null || true
      note "$t" "$r" disk_full "$k" "data dir left $((min_free / 2 >> 20)) MiB for $hold s"
      undo+=("$((SECONDS + hold)) unfill $k")
      ;;
    5)
      local skew
      skew=$([[ $((RANDOM % 2)) -eq 0 ]] && echo "+300s" || echo "-300s")
      tb_kill "$k" TERM
      TBP_SKEW[$k]=$skew
      tbp_start "$k"
      note "$t" "$r" skew "$k" "restarted with its clock $skew for $((hold * 3)) s"
      undo+=("$((SECONDS + hold * 3)) unskew $k")
      ;;
  esac
}

run_undo() {  # SECONDS ROUND [force]
  local keep=() u when what k
  for u in "${undo[@]}"; do
    read -r when what k <<<"$u"
    if [[ ${3:-} != force && $SECONDS -lt $when ]]; then keep+=("$u"); continue; fi
    case $what in
      start) tbp_start "$k" ;;
      cont) kill -CONT "${TB_PID[$k]}" 2>/dev/null || true ;;
      heal) tb_heal ;;
      unfill) rm -f "$TBP_WORK/d$k/filler" ;;
      unskew) tb_kill "$k" TERM; unset "TBP_SKEW[$k]"; tbp_start "$k" ;;
    esac
    note "$1" "$2" "undo" "${k:--}" "$what"
  done
  undo=("${keep[@]}")
}

run_phase nemesis
mv "$out/nemesis.tsv.nemesis" "$out/nemesis.tsv"
rm -f "$out/nemesis.tsv.clean"
[[ $compare -eq 1 ]] && { run_phase clean; rm -f "$out/nemesis.tsv.clean"; }

set +e
/usr/bin/python3 "$root/bench/long_run_summary.py" "$out" "$rounds" "$hosts" "$compare" | tee -a "$out/summary.txt"
exit "${PIPESTATUS[0]}"
