#!/usr/bin/env bash
# The aggregation experiments of the README, each a series of scripts/run.sh runs (6 local peers:
# one aggregator, five trainers), one after the other on this machine:
#   bench/fl-experiments.sh robust [--dataset D] [--rounds R] [--out DIR]
#       one trainer of five sends sign-flipped updates scaled by 10 (run.sh --attackers 1):
#       fedavg, trimmed-mean (trim 0.2), median, krum (f = 1), against a clean fedavg run
#   bench/fl-experiments.sh noniid [--dataset D] [--rounds R] [--out DIR]
#       IID, Dirichlet alpha 0.5 and 0.1 shards: fedavg, fedavgm, fedprox (mu 0.1), fedadam
#   bench/fl-experiments.sh encoding [--dataset D] [--rounds R] [--out DIR]
#       IID, FedAvg, updates sent as fp32, fp16 and int8 (--update-encoding); DIR/bytes.tsv: the
#       data-plane bytes per round (all nodes' bytes out) and the trainers' share (their uploads),
#       over the whole run and after round 1 (without the initial model's one-off distribution)
#   --plot-only: no runs; plot what DIR/accuracy.tsv holds
# D is cifar10 (the subset in ../shared or $FEDNODE_CIFAR10_DIR) or fashion-mnist (Debian's, its
# first 15,000 training and 2,000 test images). Writes DIR/<run>/ (run.sh's run directory),
# DIR/accuracy.tsv (experiment, dataset, run, round, test accuracy) and DIR/final.tsv (accuracy of
# the last committed round, rounds committed), and plots DIR/<dataset>-<experiment>.png with
# gnuplot. A run that stops committing (FedAvg once its model is no longer finite) ends at its
# timeout and counts with what it committed. Uses $FEDNODE_BIN if set (see run.sh), else builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
experiment=${1:-}
shift || true
dataset=fashion-mnist
rounds=10
out=""
plot_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dataset) dataset=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --plot-only) plot_only=1; shift ;;
    *) echo "fl-experiments.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ "$experiment" == robust || "$experiment" == noniid || "$experiment" == encoding ]] ||
  { echo "usage: fl-experiments.sh robust|noniid|encoding [--dataset cifar10|fashion-mnist] [--rounds R] [--out DIR]" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "fl-experiments.sh: --rounds '$rounds' is not a positive number" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "fl-experiments.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
out=${out:-$root/runs/experiments-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

data=()
case "$dataset" in
  cifar10)
    cifar=${FEDNODE_CIFAR10_DIR:-$root/../shared/datasets/cifar10-subset/cifar-10-batches-bin}
    [[ -f "$cifar/data_batch_1.bin" ]] || { echo "fl-experiments.sh: no CIFAR-10 at $cifar (set FEDNODE_CIFAR10_DIR)" >&2; exit 1; }
    export FEDNODE_CIFAR10_DIR=$cifar
    timeout=240 ;;
  fashion-mnist)
    data=(--train-limit 15000 --test-limit 2000)
    timeout=480 ;;
  *) echo "fl-experiments.sh: --dataset '$dataset' is not cifar10 or fashion-mnist" >&2; exit 2 ;;
esac

# name | run.sh options | fednode options
if [[ $experiment == robust ]]; then
  runs=("clean||--aggregator fedavg"
        "fedavg|--attackers 1|--aggregator fedavg"
        "trimmed-mean|--attackers 1|--aggregator trimmed-mean --trim-fraction 0.2"
        "median|--attackers 1|--aggregator median"
        "krum|--attackers 1|--aggregator krum --byzantine-f 1")
elif [[ $experiment == encoding ]]; then
  runs=("fp32||--update-encoding fp32" "fp16||--update-encoding fp16" "int8||--update-encoding int8")
else
  runs=()
  for part in "iid|--partition iid" "dir0.5|--partition dirichlet --alpha 0.5" "dir0.1|--partition dirichlet --alpha 0.1"; do
    pname=${part%%|*} pflags=${part#*|}
    runs+=("$pname-fedavg||$pflags --aggregator fedavg"
           "$pname-fedavgm||$pflags --aggregator fedavgm"
           "$pname-fedprox||$pflags --aggregator fedavg --proximal-mu 0.1"
           "$pname-fedadam||$pflags --aggregator fedadam")
  done
fi

acc="$out/accuracy.tsv" final="$out/final.tsv"
[[ -f "$out/bytes.tsv" ]] || printf 'experiment\tdataset\trun\trounds\tdata_bytes_out_per_round\ttrainer_bytes_out_per_round\tdata_bytes_out_per_round_after_1\n' >"$out/bytes.tsv"
[[ -f "$acc" ]] || printf 'experiment\tdataset\trun\tround\ttest_accuracy\n' >"$acc"
[[ -f "$final" ]] || printf 'experiment\tdataset\trun\tfinal_accuracy\trounds_committed\tseconds\n' >"$final"
for spec in "${runs[@]}"; do
  [[ $plot_only -eq 1 ]] && break
  IFS='|' read -r name runsh_flags node_flags <<<"$spec"
  dir="$out/$dataset-$name"
  rm -rf "$dir"
  t0=$(date +%s)
  # shellcheck disable=SC2086 # the flag strings are word lists
  "$root/scripts/run.sh" --peers 6 --rounds "$rounds" --epochs 1 --dataset "$dataset" --run-dir "$dir" \
    --timeout "$timeout" $runsh_flags -- --min-clients 5 --deadline-s 60 "${data[@]}" $node_flags \
    >"$dir.out" 2>&1 || echo "fl-experiments.sh: $name ended early (exit $?; see $dir.out)" >&2
  committed=$( [[ -f "$dir/rounds.tsv" ]] && wc -l <"$dir/rounds.tsv" || echo 0)
  last=$( [[ -s "$dir/rounds.tsv" ]] && tail -1 "$dir/rounds.tsv" | cut -f8 || echo 0)
  [[ -f "$dir/rounds.tsv" ]] && awk -F'\t' -v e="$experiment" -v d="$dataset" -v n="$name" \
    '{printf "%s\t%s\t%s\t%s\t%s\n", e, d, n, $1, $8}' "$dir/rounds.tsv" >>"$acc"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$experiment" "$dataset" "$name" "$last" "$committed" "$(($(date +%s) - t0))" >>"$final"
  # Data-plane bytes out per round over all nodes (each node's counters at its last commit), and
  # the part sent by the nodes that never aggregated (the trainers' uploads).
  /usr/bin/python3 - "$dir" "$experiment" "$dataset" "$name" >>"$out/bytes.tsv" <<'PY'
import glob, json, sys
run, exp, ds, name = sys.argv[1:]
total = trainers = rounds = after_first = 0
for f in glob.glob(run + "/node-*/events.jsonl"):
    first, last, aggregated = None, None, False
    for line in open(f):
        e = json.loads(line)
        if e.get("event") == "round_commit":
            last = e
            first = e if e["round"] == 1 else first
            rounds = max(rounds, e["round"])
        aggregated |= e.get("event") == "aggregated"
    if last:
        total += last["data_tcp"]["bytes_out"]
        trainers += 0 if aggregated else last["data_tcp"]["bytes_out"]
        after_first += last["data_tcp"]["bytes_out"] - (first["data_tcp"]["bytes_out"] if first else 0)
if rounds:
    steady = after_first // (rounds - 1) if rounds > 1 else 0
    print(f"{exp}\t{ds}\t{name}\t{rounds}\t{total // rounds}\t{trainers // rounds}\t{steady}")
PY
  echo "$dataset $name: accuracy $last after $committed of $rounds rounds ($(($(date +%s) - t0)) s)"
done

# One line per run: accuracy per round; noniid: one panel per partition, a colour per strategy.
png="$out/$dataset-$experiment.png"
line() {  # NAME TITLE COLOUR: a gnuplot plot element for run NAME, if it committed a round
  awk -F'\t' -v d="$dataset" -v n="$1" '$2==d && $3==n {print $4, $5}' "$acc" >"$out/$dataset-$1.dat"
  [[ -s "$out/$dataset-$1.dat" ]] && printf "'%s' using 1:2 with linespoints lw 2 lc rgb '%s' title '%s', " "$out/$dataset-$1.dat" "$3" "$2"
}
colours=(black '#d62728' '#1f77b4' '#2ca02c' '#9467bd')
{
  echo "set terminal pngcairo size $([[ $experiment == noniid ]] && echo 1500,520 || echo 900,540)"
  echo "set output '$png'"
  echo "set xlabel 'round'; set ylabel 'test accuracy'; set grid; set key bottom right"
  if [[ $experiment == encoding ]]; then
    echo "set title '$dataset: 5 trainers, FedAvg, updates sent as fp32, fp16 or int8'"
    plot=""
    k=0
    for name in fp32 fp16 int8; do plot+=$(line "$name" "$name" "${colours[$k]}"); k=$((k + 1)); done
    echo "plot [][0:*] ${plot%, }"
  elif [[ $experiment == robust ]]; then
    echo "set title '$dataset: 5 trainers, one sends sign-flipped updates x10 (clean: none)'"
    plot=""
    k=0
    for name in clean fedavg trimmed-mean median krum; do plot+=$(line "$name" "$name" "${colours[$k]}"); k=$((k + 1)); done
    [[ -n "$plot" ]] || { echo "fl-experiments.sh: no run committed a round" >&2; exit 1; }
    echo "plot [][0:*] ${plot%, }"
  else
    echo "set multiplot layout 1,3 title '$dataset: 5 trainers, 1 local epoch per round'"
    for part in "iid|IID" "dir0.5|Dirichlet alpha 0.5" "dir0.1|Dirichlet alpha 0.1"; do
      echo "set title '${part#*|}'"
      plot=""
      k=0
      for strategy in fedavg fedavgm fedprox fedadam; do plot+=$(line "${part%%|*}-$strategy" "$strategy" "${colours[$k]}"); k=$((k + 1)); done
      echo "plot [][0:*] ${plot%, }"
    done
    echo "unset multiplot"
  fi
} >"$out/$dataset-$experiment.gp"
gnuplot "$out/$dataset-$experiment.gp"
echo "fl-experiments.sh: $final, $png"
column -t -s $'\t' "$final"
