#!/usr/bin/env bash
# The aggregator cut off in a minority partition in the middle of a round, on the namespace
# testbed: 5 hosts; while round 3 trains, the aggregator and one trainer lose the other three.
# Shown: the minority commits nothing while cut off; the majority elects another aggregator,
# re-runs the round and goes on; after healing, the old aggregator catches up and every host
# holds the same history. Times on the machine's monotonic clock (shared by the namespaces).
#   bench/testbed-partition.sh [--rounds R] [--epochs E] [--heal-after K] [--dataset D] [-- FEDNODE FLAGS]
#     --epochs E       local epochs per round (default 3: rounds long enough to cut one midway)
#     --heal-after K   heal once the majority has committed K rounds past the cut (default 2)
# Writes runs/testbed-partition-<time>/ with partition.txt. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hosts=5
rounds=7
heal_after=2
epochs=3
dataset=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --heal-after) heal_after=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed-partition.sh: unknown option '$1' (--rounds R, --heal-after K, --dataset D, -- FLAGS)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[0-9]+$ && "$heal_after" =~ ^[1-9][0-9]*$ && $rounds -ge $((3 + heal_after)) ]] ||
  { echo "testbed-partition.sh: need --rounds >= 3 + --heal-after" >&2; exit 2; }
source "$root/tests/cluster/lib.sh"
source "$root/tests/testbed/lib.sh"
source "$root/tests/testbed/peers.sh"
tbp_prepare_experiment testbed-partition "$dataset"
TBP_WORK=$out
TBP_N=$hosts
TBP_FLAGS=(--rounds "$rounds" --local-epochs "$epochs" --torch-threads 1 "${data[@]}" "${extra[@]}")
report() { echo "$*" | tee -a "$out/partition.txt"; }
die() { report "FAILED: $*"; exit 1; }
mono() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }
tb_init "$hosts"
tbp_start_all

trainer=$(tbp_wait_training 3 300) || die "nobody trained round 3"
agg=$(tbp_current_aggregator "$trainer")
minority="$agg $trainer"
majority=$(seq 1 "$hosts" | grep -vx -e "$agg" -e "$trainer" | tr '\n' ' ')
[[ $trainer -ne $agg ]] || die "the aggregator trains?"
cut=$(mono)  # taken before the first rule: times below are upper bounds
before=$(tbp_cut "$minority" "$majority")
cut_round=$((before + 1))
[[ $cut_round -le $rounds ]] || die "the run ended before the cut"
report "cut {aggregator $agg, trainer $trainer} from {$majority} while round 3 trained; the minority stays at $before committed rounds, round $cut_round is cut midway"

probe=$(awk '{print $1}' <<<"$majority")
tbp_wait_rounds "$probe" $((before + heal_after)) 600 || die "the majority did not go on"
# shellcheck disable=SC2046
start=$(events_py first-other round_start "$cut" "$(tbp_addr "$agg")" $(for k in $majority; do tbp_events "$k"; done))
# shellcheck disable=SC2046
commit=$(events_py first-other round_commit "$cut" "$(tbp_addr "$agg")" $(for k in $majority; do tbp_events "$k"; done))
for k in $minority; do
  [[ $(tbp_committed "$k") -eq $before ]] || die "minority host $k committed rounds while cut off"
done
report "majority: a new aggregator's first round_start $((start - cut)) ms after the cut, its first round_commit $((commit - cut)) ms after; minority: still $before committed rounds"
tb_heal
healed=$(mono)
report "healed after the majority committed $((before + heal_after)) rounds"
agg_addr=$(tbp_addr "$agg")
[[ "$(tbp_ctl "$probe" rounds --tsv | awk -F'\t' -v r="$cut_round" '$1 == r {print $3}')" != "$agg_addr" ]] ||
  die "round $cut_round, cut midway, was committed by the cut-off aggregator"
for k in $(seq 1 "$hosts"); do tbp_wait_rounds "$k" "$rounds" 900 || die "host $k did not finish"; done
caught=$(events_py first round_commit "$healed" "$(tbp_events "$agg")")
report "old aggregator $agg applied its first commit $((caught - healed)) ms after healing"
want=$(tbp_ctl 1 rounds --tsv | cut -f1-3)
for k in $(seq 2 "$hosts"); do
  [[ "$(tbp_ctl "$k" rounds --tsv | cut -f1-3)" == "$want" ]] || die "host $k's history differs from host 1's"
done
report "all $hosts hosts hold the same $rounds rounds (round, model id, aggregator):"
report "$want"
