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
trap 'rm -rf "$out"' EXIT

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
    fail = []
    for p in range(1, pairs + 1):
        for line in open(f"{out}/kv-{mode}-{p}.txt"):
            m = re.match(r"(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", line)
            if m: rows.setdefault(int(m[1]), []).append((int(m[2]), float(m[4])))
            m = re.search(r"p50 (\d+) ms, p99 (\d+) ms", line)
            if m: fail.append((int(m[1]), int(m[2])))
    return rows, fail
def fl(mode):
    means, raft, data = [], [], []
    for p in range(1, pairs + 1):
        for line in open(f"{out}/figures-{mode}-{p}.txt"):
            m = re.match(r"mean\s+([\d.]+)\s+([\d.]+)", line)
            if m: means.append(float(m[1]))
            m = re.search(r"Raft UDP (\d+), client TCP (\d+), data plane TCP (\d+)", line)
            if m: raft.append(int(m[1])); data.append(int(m[3]))
    return means, raft, data
ks, fs = kv("secure"), fl("secure")
ki, fi = kv("insecure"), fl("insecure")
print(f"secure vs insecure, {pairs} alternating pair(s) on this machine")
print(f"{'figure':34} {'secure':>12} {'insecure':>12} {'ratio':>7}")
for c in sorted(ks[0]):
    s = st.mean(w for w, _ in ks[0][c]); i = st.mean(w for w, _ in ki[0][c])
    print(f"{'KV writes/s, ' + str(c) + ' client(s)':34} {s:12.0f} {i:12.0f} {s / i:7.3f}")
    s = st.mean(q for _, q in ks[0][c]); i = st.mean(q for _, q in ki[0][c])
    print(f"{'KV p99 ms, ' + str(c) + ' client(s)':34} {s:12.2f} {i:12.2f} {s / i:7.3f}")
s = st.mean(p for _, p in ks[1]); i = st.mean(p for _, p in ki[1])
print(f"{'failover p99 ms':34} {s:12.0f} {i:12.0f} {s / i:7.3f}")
s = st.mean(fs[0]); i = st.mean(fi[0])
print(f"{'FL mean round s':34} {s:12.3f} {i:12.3f} {s / i:7.3f}")
s = st.mean(fs[1]); i = st.mean(fi[1])
print(f"{'FL Raft UDP bytes/round':34} {s:12.0f} {i:12.0f} {s / i:7.3f}")
s = st.mean(fs[2]); i = st.mean(fi[2])
print(f"{'FL data plane bytes/round':34} {s:12.0f} {i:12.0f} {s / i:7.3f}")
PY
