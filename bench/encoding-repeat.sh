#!/usr/bin/env bash
# The encoding experiment repeated: a run's accuracy after 10 rounds moves by a point or more from
# one run to the next (the nodes' keys, and so their shards and seeds, are new each time), more
# than fp16 or int8 change it. This runs `bench/fl-experiments.sh encoding` REPEAT times per data
# set (fp32, fp16 and int8 in turn each time) and prints, per encoding, the mean accuracy and the
# mean of its difference from fp32 in the same repetition (with the standard error), and the
# data-plane bytes per round (whole run, and after round 1) with their ratio to fp32.
#   bench/encoding-repeat.sh [--repeat N] [--rounds R] [--out DIR] DATASET...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
repeat=5 rounds=10 out="" datasets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -*) echo "encoding-repeat.sh: unknown option '$1'" >&2; exit 2 ;;
    *) datasets+=("$1"); shift ;;
  esac
done
[ ${#datasets[@]} -gt 0 ] || datasets=(cifar10 fashion-mnist)
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "encoding-repeat.sh: --repeat '$repeat' is not a positive number" >&2; exit 2; }
out=${out:-$root/runs/encoding-repeat-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
for r in $(seq "$repeat"); do
  for ds in "${datasets[@]}"; do
    "$root/bench/fl-experiments.sh" encoding --dataset "$ds" --rounds "$rounds" --out "$out/rep-$r" >"$out/rep-$r-$ds.log" 2>&1 ||
      { echo "encoding-repeat.sh: repetition $r on $ds failed (log: $out/rep-$r-$ds.log)" >&2; exit 1; }
    echo "repetition $r, $ds: done"
  done
done
python3 - "$out" "$repeat" <<'PY' | tee "$out/summary.tsv"
import csv, statistics, sys
out, repeat = sys.argv[1], int(sys.argv[2])
acc, data, after = {}, {}, {}
for r in range(1, repeat + 1):
    for row in csv.DictReader(open(f"{out}/rep-{r}/final.tsv"), delimiter="\t"):
        acc[(row["dataset"], row["run"], r)] = float(row["final_accuracy"])
    for row in csv.DictReader(open(f"{out}/rep-{r}/bytes.tsv"), delimiter="\t"):
        data[(row["dataset"], row["run"], r)] = int(row["data_bytes_out_per_round"])
        after[(row["dataset"], row["run"], r)] = int(row["data_bytes_out_per_round_after_1"])
print("dataset\tencoding\truns\tmean_accuracy\tmean_diff_from_fp32_points\tstderr_points\t"
      "data_bytes_per_round\tratio_to_fp32\tdata_bytes_per_round_after_1\tratio_to_fp32_after_1")
for ds in sorted({k[0] for k in acc}):
    for enc in ("fp32", "fp16", "int8"):
        reps = [r for r in range(1, repeat + 1) if (ds, enc, r) in acc and (ds, "fp32", r) in acc]
        if not reps:
            continue
        a = [acc[(ds, enc, r)] for r in reps]
        d = [100 * (acc[(ds, enc, r)] - acc[(ds, "fp32", r)]) for r in reps]
        se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else 0.0
        b = statistics.mean(data[(ds, enc, r)] for r in reps)
        b32 = statistics.mean(data[(ds, "fp32", r)] for r in reps)
        s = statistics.mean(after[(ds, enc, r)] for r in reps)
        s32 = statistics.mean(after[(ds, "fp32", r)] for r in reps)
        print(f"{ds}\t{enc}\t{len(reps)}\t{statistics.mean(a):.4f}\t{statistics.mean(d):+.2f}\t{se:.2f}\t"
              f"{b:.0f}\t{b32 / b:.2f}\t{s:.0f}\t{s32 / s:.2f}")
PY
