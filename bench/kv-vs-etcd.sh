#!/usr/bin/env bash
# fednode's replicated key-value store against etcd (Debian's etcd-server), side by side in one run
# on the same disk: 3 members on loopback each, both fdatasync before acknowledging. Both take the
# same load (blocking writes of 100-byte values, each client its own keys one at a time, 1 to 256
# clients), each through its own native client: fednode through cluster-bench's clients (its
# msgpack client protocol, one connection each), etcd through its gRPC API with clientv3
# (bench/etcd-grpc-writer, built here from Debian's golang-etcd-server-dev; --clients-per-conn
# clients share a connection, as etcd's own `benchmark put` shares --conns), both writing to the
# leader. Alternately, --repeat times, each time on a fresh group; the summary gives the medians
# and the median of the per-pair ratios. etcd is also driven once by its own generator (`etcdctl
# check perf`, gRPC). Needs scripts/setup-deps.sh --bench (etcd, Go and clientv3).
#   bench/kv-vs-etcd.sh [--seconds S] [--clients 1,16,64,256] [--repeat N] [--check-perf s|m|l|none]
#                       [--clients-per-conn N] [--insecure] [--out FILE.tsv]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
seconds=5 clients=1,16,64,256 repeat=3 check=l insecure=() out="" per_conn=10
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --check-perf) check=$2; shift 2 ;;
    --clients-per-conn) per_conn=$2; shift 2 ;;
    --insecure) insecure=(--insecure); shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "kv-vs-etcd.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "kv-vs-etcd.sh: --repeat '$repeat' is not a positive number" >&2; exit 2; }
for tool in etcd etcdctl python3 go; do
  command -v "$tool" >/dev/null || { echo "kv-vs-etcd.sh: $tool not found: run scripts/setup-deps.sh --bench" >&2; exit 1; }
done
[ -x "$build/cluster-bench" ] || { echo "kv-vs-etcd.sh: $build/cluster-bench not built" >&2; exit 1; }

work=$(mktemp -d "$build/kv-vs-etcd.XXXXXX")
# etcd's own Go client, from Debian's packages (GOPATH mode: no module download).
[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ] || { echo "kv-vs-etcd.sh: clientv3 not found: run scripts/setup-deps.sh --bench" >&2; exit 1; }
(cd "$root/bench/etcd-grpc-writer" && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$work/go-cache" \
  go build -o "$build/etcd-grpc-writer" .) || { echo "kv-vs-etcd.sh: building bench/etcd-grpc-writer failed" >&2; exit 1; }
pids=()
stop_etcd() {
  for p in "${pids[@]}"; do
    kill -9 "$p" 2>/dev/null || true
    { wait "$p"; } 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  stop_etcd
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a fresh 3-member etcd group in $work/etcd-$1; sets $endpoints and $leader. The ports are
# ones the kernel hands out as free (a random base could land on a port in use, and a member
# that cannot bind exits while the others wait for it forever).
start_etcd() {
  local dir=$work/etcd-$1 cluster="" i ports
  read -r -a ports <<<"$(cd "$root/bench" && python3 -c 'from bench_common import free_ports; print(*free_ports(6))')"
  endpoints=""
  for i in 0 1 2; do cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((3 + i))]}"; done
  for i in 0 1 2; do
    endpoints+="${endpoints:+,}127.0.0.1:${ports[$i]}"
    etcd --name "e$i" --data-dir "$dir/e$i" \
      --listen-client-urls "http://127.0.0.1:${ports[$i]}" --advertise-client-urls "http://127.0.0.1:${ports[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${ports[$((3 + i))]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((3 + i))]}" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token kv-vs-etcd \
      --logger zap --log-level error --log-outputs "$dir-e$i.log" &
    pids+=($!)
  done
  leader=""
  for _ in $(seq 100); do
    for p in "${pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "kv-vs-etcd.sh: an etcd member exited at start (logs: $dir-e*.log)" >&2; exit 1; }
    done
    leader=$(etcdctl --endpoints "$endpoints" --dial-timeout 1s --command-timeout 2s endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["Status"]["header"]["member_id"] == e["Status"]["leader"]:
        print(e["Endpoint"])' 2>/dev/null || true)
    [ -n "$leader" ] && return 0
    sleep 0.1
  done
  echo "kv-vs-etcd.sh: the etcd members elected no leader (logs: $dir-e*.log)" >&2
  exit 1
}

# Each system starts on a quiet disk: what the one before left to write back (etcd preallocates
# 64 MB WAL files) is flushed first, so that neither pays for the other's writes.
settle() { sync; sleep 2; }
echo "etcd $(etcd --version | awk '/etcd Version/ {print $3}') and fednode, 3 members each on loopback, $repeat alternating runs"
for r in $(seq "$repeat"); do
  start_etcd "$r"
  echo "== run $r: etcd (leader $leader)"
  "$build/etcd-grpc-writer" --endpoints "$leader" --seconds "$seconds" --clients "$clients" \
    --clients-per-conn "$per_conn" | tee "$work/etcd-$r.out"
  if [ "$r" = 1 ] && [ "$check" != none ]; then
    echo "== etcd, its own generator: etcdctl check perf --load=$check (gRPC, to every member)"
    etcdctl --endpoints "$endpoints" check perf --load="$check" 2>&1 | grep -E "Throughput|Slowest|PASS|FAIL" || true
  fi
  stop_etcd
  settle
  echo "== run $r: fednode"
  "$build/cluster-bench" --fednode "$build/fednode" --seconds "$seconds" --trials 0 --clients "$clients" \
    --dir "$work/fednode-$r" "${insecure[@]}" | grep -v '^failover' | tee "$work/fednode-$r.out"
  settle
done

python3 - "$work" "$repeat" "${out:-/dev/null}" <<'PY'
import statistics, sys
work, repeat, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def table(path):
    rows = {}
    for line in open(path):
        f = line.split()
        if len(f) in (4, 5) and f[0].isdigit():  # 5: with the failed attempts
            rows[int(f[0])] = (float(f[1]), float(f[2]), float(f[3]))
    return rows

runs = [(table(f"{work}/etcd-{r}.out"), table(f"{work}/fednode-{r}.out")) for r in range(1, repeat + 1)]
lines = ["clients\tetcd_writes_s\tfednode_writes_s\tratio_median\tratio_min\tratio_max\tetcd_p50_ms\tfednode_p50_ms"]
for c in sorted(runs[0][0]):
    ratios = [f[c][0] / e[c][0] for e, f in runs if c in e and c in f and e[c][0] > 0]
    med = lambda k, i: statistics.median(x[k][c][i] for x in [dict(enumerate(p)) for p in runs])
    lines.append(f"{c}\t{med(0, 0):.0f}\t{med(1, 0):.0f}\t{statistics.median(ratios):.2f}\t{min(ratios):.2f}\t"
                 f"{max(ratios):.2f}\t{med(0, 1):.2f}\t{med(1, 1):.2f}")
print(f"== medians of {repeat} runs (ratio: fednode / etcd, per pair of runs)")
for l in lines:
    print("  ".join(f"{x:>16}" for x in l.split("\t")))
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
PY
