#!/usr/bin/env bash
# Traffic per channel on the namespace testbed, three ways side by side: `iftop -t` on every
# host's eth0 (one per channel, by port filter), tshark captures of every eth0, and the nodes' own
# counters. Per round and for the whole run: Raft (UDP PORT), client (TCP PORT), data plane
# (TCP PORT+1000). Needs root, tshark and iftop (scripts/setup-deps.sh --tools).
#   bench/testbed-traffic.sh [--hosts N] [--rounds R] [--dataset cifar10|fashion-mnist] [-- FEDNODE FLAGS]
# Writes runs/testbed-traffic-<time>/: hK.pcapng, iftop-hK-CHANNEL.txt, dK/events.jsonl, traffic.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hosts=4
rounds=5
dataset=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed-traffic.sh: unknown option '$1' (--hosts N, --rounds R, --dataset D, -- FLAGS)" >&2; exit 2 ;;
  esac
done
source "$root/tests/cluster/lib.sh"
source "$root/tests/testbed/lib.sh"
source "$root/tests/testbed/peers.sh"
for tool in tshark iftop; do
  command -v "$tool" >/dev/null || { echo "testbed-traffic.sh: $tool is missing (scripts/setup-deps.sh --tools)" >&2; exit 1; }
done
tbp_prepare_experiment testbed-traffic "$dataset"
run_dir=$out
TBP_WORK=$run_dir
TBP_N=$hosts
TBP_FLAGS=(--rounds "$rounds" --torch-threads 1 "${data[@]}" "${extra[@]}")
port=$TBP_PORT
dport=$((port + 1000))
tb_init "$hosts"

# iftop spins on a closed stdin, so it gets a FIFO that never ends; it stops on SIGINT, which a
# script's background jobs ignore, so it gets SIGINT back. It prints a block (with its running
# total) only when a packet arrives 2 s after the last block: its filter also takes UDP port 9,
# and at the end every host sends one 1-byte datagram there (29 IP bytes, subtracted).
mkfifo "$run_dir/iftop.stdin"
exec 9<>"$run_dir/iftop.stdin"
sniffers=()
meters=()
for k in $(seq 1 "$hosts"); do
  ip netns exec "$(tb_ns "$k")" tshark -i eth0 -q -w "$run_dir/h$k.pcapng" 2>"$run_dir/tshark-h$k.err" &
  sniffers+=($!)
  for ch in "raft:udp port $port" "client:tcp port $port" "data:tcp port $dport"; do
    # -t: text output every 2 s without a terminal; the last block's "Cumulative" line is the total.
    ip netns exec "$(tb_ns "$k")" env --default-signal=INT iftop -t -n -N -P -B -L 50 -i eth0 -f "(${ch#*:}) or (udp port 9)" <&9 \
      >"$run_dir/iftop-h$k-${ch%%:*}.txt" 2>/dev/null &
    meters+=($!)
  done
done
for k in $(seq 1 "$hosts"); do
  for _ in $(seq 100); do grep -q "Capturing on" "$run_dir/tshark-h$k.err" 2>/dev/null && break; sleep 0.1; done
done
sleep 2  # iftop opens its capture too

tbp_start_all
tbp_wait_rounds any "$rounds" $((300 + 120 * rounds)) || { echo "testbed-traffic.sh: the run did not finish; see $run_dir" >&2; exit 1; }
for k in $(seq 1 "$hosts"); do tbp_wait_rounds "$k" "$rounds" 60 || true; done
sleep 1
for k in $(seq 1 "$hosts"); do tb_kill "$k" TERM; done  # each writes its counters in a "stopped" event
sleep 2.5
for k in $(seq 1 "$hosts"); do tb_exec "$k" bash -c "printf x >/dev/udp/$(tb_ip $((k % hosts + 1)))/9"; done
sleep 1
kill -INT "${meters[@]}" 2>/dev/null || true
kill -TERM "${sniffers[@]}" 2>/dev/null || true
wait "${meters[@]}" "${sniffers[@]}" 2>/dev/null || true
exec 9>&-
rm -f "$run_dir/iftop.stdin"

python3 "$root/bench/testbed_traffic_report.py" "$run_dir" "$hosts" "$rounds" "$port" "$dport" | tee "$run_dir/traffic.txt"
