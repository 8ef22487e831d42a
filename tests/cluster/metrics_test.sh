#!/usr/bin/env bash
# A real Prometheus (Debian package prometheus) scrapes a 3-node fednode group (secure mode) on
# loopback and answers queries about it:
#   metrics_test.sh FEDNODE_BINARY
# Checks: every node's page passes `promtool check metrics`; Prometheus sees all three targets
# up, three terms, exactly one leader, the client writes the test makes in the Raft log's
# commit index, and fsyncs counted; after the leader is killed, another node leads and both
# survivors' leader-change counters moved. Skips (77) where prometheus is not installed.
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
  { echo "SKIP: prometheus/promtool not installed (apt-get install prometheus)"; exit 77; }

start_workspace
extra_logs=("$work/prometheus.log")

n=3
mapfile -t all_ports < <(free_ports $((3 * n + 1)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n:n}")
mports=("${all_ports[@]:2*n:n}")
prom_port=${all_ports[3*n]}
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
opkey=$("$bin" keygen --out "$work/keys/operator" 2>/dev/null)  # writes through any node, redirects included
for i in $(seq 0 $((n - 1))); do start_keyed_peer "$i" --metrics-port "${mports[$i]}" --operator-key "$opkey"; done

metrics() { curl -sf "http://127.0.0.1:${mports[$1]}/metrics"; }
for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 50); do metrics "$i" >/dev/null && break; sleep 0.1; done
  metrics "$i" | promtool check metrics || fail "promtool rejects node $i's page"
done

# 20 writes with an operator key through node 0 (redirected to the leader); the first waits out
# the election.
opctl() { "$bin" ctl "$(addr 0)" --key-file "$work/keys/operator/node.key" --server-key "${keys[0]}" "$@"; }
for _ in $(seq 50); do opctl set k0 v0 >/dev/null 2>&1 && break; sleep 0.2; done
# A write may meet an election on this shared machine; it is tried again (this test is about metrics).
for k in $(seq 20); do
  for try in 1 2 3; do
    out=$(opctl set "k$k" "v$k" 2>&1) && break
    [[ $try -eq 3 ]] && fail "write $k failed 3 times: $out"
    echo "write $k: $out; trying again" >&2
    sleep 0.5
  done
done

targets=""
for i in $(seq 0 $((n - 1))); do targets+="'127.0.0.1:${mports[$i]}',"; done
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: fednode
    static_configs:
      - targets: [${targets%,}]
YML
promtool check config "$work/prometheus.yml" >/dev/null || fail "promtool rejects the scrape configuration"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

# query EXPR: the instant vector's values, one "instance value" a line, sorted.
query() {
  curl -sfG "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
for s in sorted(r["data"]["result"], key=lambda s: s["metric"].get("instance", "")):
    print(s["metric"].get("instance", "-"), s["value"][1])'
}
# wait_for_query EXPR WANT SECONDS: until query EXPR prints exactly WANT.
wait_for_query() {
  local until=$((SECONDS + $3)) got=""
  while [[ $SECONDS -lt $until ]]; do
    got=$(query "$1" 2>/dev/null || true)
    [[ "$got" == "$2" ]] && return 0
    sleep 0.5
  done
  fail "Prometheus query '$1' gave '$got', wanted '$2'"
}

wait_for_query 'count(up{job="fednode"} == 1)' "- 3" 60
wait_for_query 'count(fednode_raft_term)' "- 3" 30
wait_for_query 'sum(fednode_raft_role{role="leader"})' "- 1" 30
wait_for_query 'count(fednode_raft_commit_index >= 20)' "- 3" 30
wait_for_query 'count(fednode_storage_fsyncs_total > 0)' "- 3" 30
wait_for_query 'clamp_max(count(fednode_channel_bytes_total{channel="client_tcp",direction="in"} > 0), 1)' "- 1" 30

leader_port=$(query 'fednode_raft_role{role="leader"} == 1' | awk '{print $1}' | cut -d: -f2)
victim=""
for i in $(seq 0 $((n - 1))); do [[ ${mports[$i]} == "$leader_port" ]] && victim=$i; done
[[ -n "$victim" ]] || fail "no node serves the leader's metrics port $leader_port"
before=$(query 'fednode_raft_leader_changes_total')
kill -9 "${pids[$victim]}"
wait_for_query 'count(up{job="fednode"} == 1)' "- 2" 30
wait_for_query 'sum(fednode_raft_role{role="leader"} and on(instance) up == 1)' "- 1" 30
new_leader=$(query 'fednode_raft_role{role="leader"} == 1 and on(instance) up == 1' | awk '{print $1}')
[[ "$new_leader" != "127.0.0.1:$leader_port" ]] || fail "the dead node still counts as leader"
# Each survivor's leader-change counter moves once it knows the new leader (scraped every second).
moved=0
for _ in $(seq 40); do
  after=$(query 'fednode_raft_leader_changes_total and on(instance) up == 1')
  moved=$(awk 'NR == FNR { was[$1] = $2; next } ($1 in was) && $2 > was[$1] { n++ } END { print n + 0 }' \
    <(echo "$before") <(echo "$after"))
  [[ $moved -eq 2 ]] && break
  sleep 0.5
done
[[ $moved -eq 2 ]] || fail "leader changes before the kill: $before; after: $after"
echo "ok: Prometheus scraped 3 nodes (promtool clean), one leader, 20 writes committed; after killing node $victim the leader is $new_leader"
