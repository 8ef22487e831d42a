#!/usr/bin/env bash
# fednode's replicated key-value store against etcd (Debian's etcd-server), side by side in one run
# on the same disk: 3 members on loopback each, both fdatasync before acknowledging. Both are driven
# by cluster-bench's clients (blocking writes of 100-byte values, 1 to 256 clients; etcd through its
# JSON gateway), and etcd also by its own generator (`etcdctl check perf`, gRPC).
# Needs scripts/setup-deps.sh --bench (etcd-server, etcd-client).
#   bench/kv-vs-etcd.sh [--seconds S] [--clients 1,16,64,256] [--check-perf s|m|l|none] [--insecure]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
seconds=5 clients=1,16,64,256 check=l insecure=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --check-perf) check=$2; shift 2 ;;
    --insecure) insecure=(--insecure); shift ;;
    *) echo "kv-vs-etcd.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for tool in etcd etcdctl; do
  command -v "$tool" >/dev/null || { echo "kv-vs-etcd.sh: $tool not found: run scripts/setup-deps.sh --bench" >&2; exit 1; }
done
[ -x "$build/cluster-bench" ] || { echo "kv-vs-etcd.sh: $build/cluster-bench not built" >&2; exit 1; }

work=$(mktemp -d "$build/kv-vs-etcd.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=$((30000 + RANDOM % 20000))
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((base + 10 + i))"; done
endpoints=""
for i in 0 1 2; do
  endpoints+="${endpoints:+,}127.0.0.1:$((base + i))"
  etcd --name "e$i" --data-dir "$work/e$i" \
    --listen-client-urls "http://127.0.0.1:$((base + i))" --advertise-client-urls "http://127.0.0.1:$((base + i))" \
    --listen-peer-urls "http://127.0.0.1:$((base + 10 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 10 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token kv-vs-etcd \
    --logger zap --log-level error --log-outputs "$work/e$i.log" &
  pids+=($!)
done
leader=""
for _ in $(seq 100); do
  leader=$(etcdctl --endpoints "$endpoints" endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["Status"]["header"]["member_id"] == e["Status"]["leader"]:
        print(e["Endpoint"])' 2>/dev/null || true)
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "kv-vs-etcd.sh: the etcd members elected no leader (logs in $work)" >&2; exit 1; }

echo "== etcd $(etcd --version | awk '/etcd Version/ {print $3}'), 3 members on loopback, leader $leader"
"$build/cluster-bench" --etcd "${leader#http://}" --seconds "$seconds" --clients "$clients"
if [ "$check" != none ]; then
  echo "== etcd, its own generator: etcdctl check perf --load=$check (gRPC, to every member)"
  etcdctl --endpoints "$endpoints" check perf --load="$check" 2>&1 | grep -E "Throughput|latency|PASS|FAIL" || true
fi
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
pids=()
echo "== fednode"
"$build/cluster-bench" --fednode "$build/fednode" --seconds "$seconds" --trials 0 --clients "$clients" \
  --dir "$work/fednode" "${insecure[@]}"
