#!/usr/bin/env bash
# Federated rounds on the namespace testbed (tests/testbed/lib.sh): every peer on a "machine" of
# its own, run as `fednode 198.18.0.K:5000 PEERS...` (the same port on every host, as on real
# machines). Needs root; skipped (exit 77) where network namespaces cannot be made.
#   fl_testbed_test.sh BIN basic       4 hosts train 3 rounds.
#   fl_testbed_test.sh BIN partition   4 hosts, 3 rounds of 3 epochs: the aggregator is cut off from the
#       three others while round 2 trains. The majority elects another aggregator and finishes;
#       the old one commits nothing while cut off, and catches up after the partition heals.
#   fl_testbed_test.sh BIN skew        4 hosts, 4 rounds, --rotate-every 1: host 1's wall clock
#       runs 300 s behind, host 2's 300 s ahead (libfaketime). Skewed hosts train for others and
#       aggregate themselves; every round aggregates every invited trainer's update (a trainer
#       that judged a round stale by comparing clocks would leave it waiting for the deadline).
#   fl_testbed_test.sh BIN straggler   4 hosts, 3 rounds, --min-clients 2: host 4 sits behind a
#       1 Mbit/s link; every round that invites it aggregates without it at the deadline.
# Each checks the exact number of committed rounds and the same history (round, model id) on
# every host, read through each host's own client port.
set -euo pipefail
bin=$1
scenario=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=lib.sh
source "$root/tests/testbed/lib.sh"
# shellcheck source=peers.sh
source "$root/tests/testbed/peers.sh"

case "$scenario" in basic | partition | skew | straggler) ;; *)
  echo "usage: fl_testbed_test.sh BIN basic|partition|skew|straggler" >&2; exit 2 ;;
esac
why=$(tb_can_run) || { echo "SKIP: $why"; exit 77; }
fl_pick_dataset

work=$(mktemp -d)
tb_on_cleanup() { rm -rf "$work"; }
# fail (tests/cluster/lib.sh) reports $work/logK, host K's log.

n=4
rounds=3
deadline=60
extra=()
case "$scenario" in
  partition) extra=(--local-epochs 3) ;;
  skew)
    rounds=4
    extra=(--rotate-every 1)
    TBP_SKEW[1]=-300s
    TBP_SKEW[2]=+300s
    [[ -f $TBP_FAKETIME_LIB ]] || { echo "SKIP: libfaketime is missing (apt-get install faketime)"; exit 77; } ;;
  straggler)
    # Small shards keep local training well under the deadline; the straggler's update alone
    # (about 180 KB for the Fashion-MNIST CNN, 250 KB for CIFAR's) needs over a second at 1 Mbit/s.
    deadline=1
    extra=(--min-clients 2)
    train_limit=(--train-limit 900)
    # A host on a slow link waits longer before it calls an election (it would rarely win one).
    TBP_HOST_FLAGS[4]="--election-timeout-min-ms 3000 --election-timeout-max-ms 4000" ;;
esac
TBP_BIN=$bin
TBP_WORK=$work
TBP_N=$n
TBP_FLAGS=(--rounds "$rounds" --deadline-s "$deadline" --torch-threads 1 "${data[@]}" "${train_limit[@]}" "${extra[@]}")

addr() { tbp_addr "$1"; }
events() { tbp_events "$1"; }
committed() { tbp_committed "$1"; }
wait_rounds() { tbp_wait_rounds "$@" || fail "waiting for rounds"; }
ctl() { tbp_ctl "$@"; }
# Every host: exactly rounds 1..R, the same model ids, and it holds the latest model.
check_history() {
  local k want got
  want=$(ctl 1 rounds --tsv | cut -f1,2)
  [[ $(cut -f1 <<<"$want" | tr '\n' ' ') == "$(seq -s ' ' 1 "$rounds") " ]] || fail "host 1's rounds are not exactly 1..$rounds: $want"
  for k in $(seq 1 "$n"); do
    # A follower applies a commit after the leader's majority did: the straggler, behind a
    # 1 Mbit/s link that its model fetch fills, hears of the last commit up to a few hundred ms
    # later. Its history is compared once it has applied every round (it must, within 60 s).
    wait_rounds "$k" "$rounds" 60
    got=$(ctl "$k" rounds --tsv | cut -f1,2)
    [[ "$got" == "$want" ]] || fail "host $k's history differs from host 1's: $got vs $want"
    for _ in $(seq 50); do ctl "$k" rounds --tsv | tail -1 | grep -q missing || break; sleep 0.2; done
    ctl "$k" rounds --tsv | tail -1 | grep -q missing && fail "host $k does not hold the latest model"
  done
  return 0
}
# A column of a committed round in host 1's events: 3 aggregator, 4 update count, 5 trainers.
round_field() { events_py rounds "$(events 1)" | awk -F'\t' -v r="$1" -v c="$2" '$1 == r {print $c}'; }

tb_init "$n"
t0=$SECONDS
[[ $scenario == straggler ]] && tb_rate 4 1
tbp_start_all

case "$scenario" in
  basic)
    wait_rounds 1 "$rounds" 240
    ;;
  partition)
    trainer=$(tbp_wait_training 2 240) || fail "nobody trained round 2"
    agg=$(tbp_current_aggregator "$trainer")
    others=$(seq 1 "$n" | grep -vx "$agg" | tr '\n' ' ')
    before=$(tbp_cut "$agg" "$others")
    cut_round=$((before + 1))
    [[ $cut_round -le $rounds ]] || fail "the run ended before the cut (rounds too short?)"
    echo "round $cut_round in training: aggregator host $agg cut off from hosts $others"
    majority=$(awk '{print $1}' <<<"$others")
    wait_rounds "$majority" "$rounds" 240
    [[ $(committed "$agg") -eq $before ]] || fail "host $agg committed rounds while cut off in a minority"
    tb_heal
    echo "healed after the majority committed $rounds rounds"
    wait_rounds "$agg" "$rounds" 120
    [[ "$(round_field "$cut_round" 3)" != "$(addr "$agg")" ]] || fail "round $cut_round, cut midway, was committed by the cut-off aggregator"
    ;;
  skew)
    wait_rounds 1 "$rounds" 300
    # The skew took hold: the hosts' wall clocks (event stamps) differ by about 300 s each way.
    for k in 1 2; do
      off=$(( $(events_py field config ts "$(events "$k")" | head -1) - $(events_py field config ts "$(events 3)" | head -1) ))
      [[ ${off#-} -gt 250000 && ${off#-} -lt 350000 ]] || fail "host $k's clock is off by $off ms, not ${TBP_SKEW[$k]}"
    done
    aggs=$(for r in $(seq 1 "$rounds"); do round_field "$r" 3; done)
    grep -qx -e "$(addr 1)" -e "$(addr 2)" <<<"$aggs" || fail "no skewed host aggregated a round: $(tr '\n' ' ' <<<"$aggs")"
    for k in 1 2; do
      [[ $(events_py count trained "$(events "$k")") -ge 1 ]] || fail "skewed host $k (${TBP_SKEW[$k]}) never trained"
    done
    for r in $(seq 1 "$rounds"); do
      [[ $(round_field "$r" 4) -eq $((n - 1)) ]] || fail "round $r aggregated $(round_field "$r" 4) of $((n - 1)) updates"
    done
    # No round waited for its deadline: the whole run took less than one deadline.
    [[ $((SECONDS - t0)) -lt $deadline ]] || fail "the run took $((SECONDS - t0)) s, over one $deadline s deadline"
    echo "aggregators by round: $(tr '\n' ' ' <<<"$aggs")"
    ;;
  straggler)
    wait_rounds 1 "$rounds" 300
    for r in $(seq 1 "$rounds"); do
      [[ "$(round_field "$r" 5)" != *"$(addr 4)"* ]] || fail "round $r aggregated the straggler's update (1 Mbit/s, deadline $deadline s)"
      [[ $(round_field "$r" 4) -eq $((n - 2)) ]] || fail "round $r aggregated $(round_field "$r" 4) updates, not the $((n - 2)) fast trainers'"
    done
    invited=$(events_py field round_start participants "$(events 1)" | grep -c "$(addr 4)" || true)
    [[ $invited -ge 1 ]] || fail "the straggler was never invited (the test proved nothing)"
    tb_alive 4 || fail "the straggler stopped"
    echo "the straggler was invited $invited time(s) and never aggregated"
    ;;
esac

check_history
sleep 2
[[ $(committed 1) -eq $rounds ]] || fail "the run went past $rounds rounds"
echo "ok ($scenario): exactly $rounds rounds, the same history on $n hosts, $((SECONDS - t0)) s"
