#!/usr/bin/env bash
# What secure mode costs, measured side by side in one run (alternating, so both modes see the
# same machine load): KV writes/s and p99 with 1/16/64 clients and failover (cluster-bench), and
# federated rounds (scripts/run.sh: mean round time, bytes per round on each channel).
#   bench/secure-cost.sh [--pairs N] [--rounds R] [--seconds S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
pairs=2 rounds=6 seconds=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: secure-cost.sh [--pairs N] [--rounds R] [--seconds S]" >&2; exit 2 ;;
  esac
done
[[ -x "$build/cluster-bench" && -x "$build/fednode" ]] || { echo "secure-cost.sh: build first (scripts/build.sh)" >&2; exit 1; }
out=$(mktemp -d)
# Kept when a step fails, for its output; removed after a clean run.
trap 'if [[ $? -eq 0 ]]; then rm -rf "$out"; else echo "secure-cost.sh: failed; outputs in $out" >&2; fi' EXIT

for p in $(seq "$pairs"); do
  for mode in secure insecure; do
    flag=(); [[ $mode == insecure ]] && flag=(--insecure)
    "$build/cluster-bench" --fednode "$build/fednode" --seconds "$seconds" --trials 10 --dir "$out/cb" "${flag[@]}" \
      >"$out/kv-$mode-$p.txt"
    FEDNODE_BUILD_DIR=$build "$root/scripts/run.sh" --rounds "$rounds" --epochs 1 -- "${flag[@]}" >"$out/fl-$mode-$p.txt" 2>&1
    run_dir=$(grep -o 'run dir [^ ]*' "$out/fl-$mode-$p.txt" | head -1 | cut -d' ' -f3)
    "$root/bench/fl-figures.sh" "$run_dir" >"$out/figures-$mode-$p.txt"
    echo "pair $p: $mode done" >&2
  done
done

python3 - "$out" "$pairs" <<'PY'
import re, sys, statistics as st
out, pairs = sys.argv[1], int(sys.argv[2])
def kv(mode):
    rows = {}
    fail, samples = [], []
    for p in range(1, pairs + 1):
        for line in open(f"{out}/kv-{mode}-{p}.txt"):
            m = re.match(r"(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", line)
            if m: rows.setdefault(int(m[1]), []).append((int(m[2]), float(m[4])))
            m = re.search(r"p50 (\d+) ms, p99 (\d+) ms", line)
            if m: fail.append((int(m[1]), int(m[2])))
            if line.startswith("failover samples ms:"): samples.extend(float(x) for x in line.split(":")[1].split())
    return rows, fail, samples
def fl(mode):
    means, raft, data = [], [], []
    for p in range(1, pairs + 1):
        for line in open(f"{out}/figures-{mode}-{p}.txt"):
            m = re.match(r"mean\s+([\d.]+)\s+([\d.]+)", line)
            if m: means.append(float(m[1]))
            m = re.search(r"Raft UDP (\d+), client TCP (\d+), data plane TCP (\d+)", line)
            if m: raft.append(int(m[1])); data.append(int(m[3]))
    return means, raft, data
def per_pair(values_s, values_i):
    """Median of the per-pair ratios and their range: pairs ran back to back, so a ratio within a
    pair sees one machine load, while loads between pairs differ by more than the effect."""
    r = sorted(a / b for a, b in zip(values_s, values_i))
    return st.median(r), r[0], r[-1]
def row(name, s_vals, i_vals, fmt):
    med, lo, hi = per_pair(s_vals, i_vals)
    s, i = st.median(s_vals), st.median(i_vals)
    print(f"{name:34} {s:12{fmt}} {i:12{fmt}} {med:7.3f}  {lo:.3f}-{hi:.3f}")
ks, fs = kv("secure"), fl("secure")
ki, fi = kv("insecure"), fl("insecure")
print(f"secure vs insecure, {pairs} alternating pair(s) on this machine")
print(f"{'figure (medians over pairs)':34} {'secure':>12} {'insecure':>12} {'ratio':>7}  pair ratios")
for c in sorted(ks[0]):
    row(f"KV writes/s, {c} client(s)", [w for w, _ in ks[0][c]], [w for w, _ in ki[0][c]], ".0f")
    row(f"KV p99 ms, {c} client(s)", [q for _, q in ks[0][c]], [q for _, q in ki[0][c]], ".2f")
def pooled(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")
for q, name in ((0.5, "p50"), (0.99, "p99")):
    s, i = pooled(ks[2], q), pooled(ki[2], q)
    print(f"{'failover ' + name + ' ms, pooled trials':34} {s:12.0f} {i:12.0f} {s / i:7.3f}  ({len(ks[2])} and {len(ki[2])} trials)")
row("FL mean round s", fs[0], fi[0], ".3f")
row("FL Raft UDP bytes/round", fs[1], fi[1], ".0f")
row("FL data plane bytes/round", fs[2], fi[2], ".0f")
PY
