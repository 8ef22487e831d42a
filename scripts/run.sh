#!/usr/bin/env bash
# Launches four local fednode peers (127.0.0.1:5000-5003) and stops them cleanly on Ctrl-C.
#   scripts/run.sh [--base-port P] [--duration SECONDS]
# Each peer logs to runs/<time>/node-<port>.log and keeps its data in runs/<time>/node-<port>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base_port=5000
duration=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base-port) base_port=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "run.sh: unknown option '$1' (use --base-port P, --duration SECONDS)" >&2; exit 2 ;;
  esac
done

"$root/scripts/build.sh"
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
run_dir="$root/runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"

addresses=()
for i in 0 1 2 3; do addresses+=("127.0.0.1:$((base_port + i))"); done

pids=()
stop() {
  trap - INT TERM EXIT
  echo "run.sh: stopping peers"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "run.sh: logs in $run_dir"
}
trap stop INT TERM EXIT

for i in 0 1 2 3; do
  self=${addresses[$i]}
  others=()
  for j in 0 1 2 3; do [[ $j -ne $i ]] && others+=("${addresses[$j]}"); done
  port=$((base_port + i))
  "$bin" --config "$root/configs/local4.toml" --data-dir "$run_dir/node-$port" \
    "$self" "${others[@]}" >"$run_dir/node-$port.log" 2>&1 &
  pids+=($!)
  echo "run.sh: started peer $self (pid $!)"
done
echo "run.sh: the peers form a Raft group serving the replicated key-value store (try: fednode ctl"
echo "        127.0.0.1:$base_port status). Training through Raft is the next issue: no training yet. Ctrl-C stops them."
if [[ "$duration" -gt 0 ]]; then
  sleep "$duration"
else
  wait
fi
