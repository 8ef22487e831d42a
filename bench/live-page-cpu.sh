#!/usr/bin/env bash
# What one open live page costs the node serving it: 3 keyed peers, idle (no run), node 0 serving
# its page; its CPU (utime + stime from /proc) over SECONDS with no page open and with the page
# open in headless Chromium (polling /api/status twice a second), alternating for PAIRS pairs so
# both see the same machine. Also the page's weight and /api/status's size.
#   bench/live-page-cpu.sh [--pairs N] [--seconds S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
pairs=3 seconds=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: live-page-cpu.sh [--pairs N] [--seconds S]" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "live-page-cpu.sh: build first (scripts/build.sh)" >&2; exit 1; }
command -v chromium >/dev/null || { echo "live-page-cpu.sh: needs chromium (scripts/setup-deps.sh)" >&2; exit 1; }
# shellcheck source=../tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
start_workspace
trap 'stop_chromium; cleanup_workspace' EXIT

n=3
mapfile -t all_ports < <(free_ports $((3 * n)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n:n}")
mports=("${all_ports[@]:2*n:n}")
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
for i in $(seq 0 $((n - 1))); do start_keyed_peer "$i" --metrics-port "${mports[$i]}" --rounds 0; done
url="http://127.0.0.1:${mports[0]}"
for _ in $(seq 100); do curl -sf "$url/api/status" | grep -q '"leader":"127' && break; sleep 0.1; done
sleep 2
ticks() { awk '{ print $14 + $15 }' "/proc/${pids[0]}/stat"; }
hz=$(getconf CLK_TCK)
measure() {  # CPU % of node 0 over $seconds
  local t0 c0 c1
  t0=$(date +%s.%N); c0=$(ticks)
  sleep "$seconds"
  c1=$(ticks)
  awk -v c="$((c1 - c0))" -v hz="$hz" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", 100 * c / hz / (b - a) }'
}
# Requests node 0's HTTP server answered (so the open phase is known to have polled).
requests() { curl -sf "$url/metrics" | awk '/^fednode_channel_messages_total\{channel="metrics_http",direction="in"\}/ { print $2 }'; }
printf 'pair\tno page %%\tpage open %%\trequests while open\n'
for p in $(seq "$pairs"); do
  closed=$(measure)
  start_chromium --remote-debugging-port=0 "$url/"
  sleep 3
  r0=$(requests)
  open=$(measure)
  r1=$(requests)
  stop_chromium
  printf '%s\t%s\t%s\t%s\n' "$p" "$closed" "$open" "$((r1 - r0 - 1))"
done
page=$(curl -sf "$url/" | wc -c)
api=$(curl -sf "$url/api/status" | wc -c)
echo "page $page bytes; /api/status $api bytes (3 members, no run)"
