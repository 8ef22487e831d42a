#!/usr/bin/env bash
# Where a key-value write's time goes, by Debian's linux-perf: for each fednode binary given, a
# 3-node group on loopback takes writes from 64 clients (cluster-bench) while `perf record -a -g`
# samples the whole machine for a few seconds; bench/perf_categories.py then files the samples
# (fdatasync, peer datagrams, client replies, checksums, sealing, msgpack, Raft core, ...) and
# prints each one's share and CPU microseconds per acknowledged write. Give two binaries (before,
# after) to profile them one after the other in one run. Needs root (or perf_event_paranoid -1).
#   bench/kv-profile.sh [--clients 64] [--seconds 5] FEDNODE_BIN [FEDNODE_BIN...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
clients=64 seconds=5 bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -*) echo "kv-profile.sh: unknown option '$1'" >&2; exit 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || { echo "usage: bench/kv-profile.sh [--clients N] [--seconds S] FEDNODE_BIN [FEDNODE_BIN...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "kv-profile.sh: perf not found: apt-get install linux-perf" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kv-profile.XXXXXX")
bench_pid=""
cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cpus=$(nproc)
for bin in "${bins[@]}"; do
  [ -x "$bin" ] || { echo "kv-profile.sh: $bin is not an executable" >&2; exit 1; }
  # The load runs 3 s before the profile and 3 s after it, so the profile sees only steady state.
  "$build/cluster-bench" --fednode "$bin" --seconds $((seconds + 6)) --trials 0 --clients "$clients" \
    --dir "$work/cluster" >"$work/bench.out" 2>&1 &
  bench_pid=$!
  sleep 3
  perf record -a -g -o "$work/perf.data" -- sleep "$seconds" >/dev/null 2>&1
  wait "$bench_pid"
  bench_pid=""
  rate=$(awk -v c="$clients" '$1 == c {print $2}' "$work/bench.out")
  [ -n "$rate" ] || { echo "kv-profile.sh: cluster-bench gave no figure:" >&2; cat "$work/bench.out" >&2; exit 1; }
  echo "== $bin: $rate writes/s from $clients clients; $cpus CPUs sampled for $seconds s"
  perf script -i "$work/perf.data" -F comm,ip,sym 2>/dev/null |
    python3 "$root/bench/perf_categories.py" --writes "$rate" --seconds "$seconds" --cpus "$cpus"
done
