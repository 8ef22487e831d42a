#!/usr/bin/env bash
# The seed's traffic experiment, unattended: captures the loopback traffic of a scripts/run.sh
# run with tshark (iftop needs a terminal), per channel by port, and compares the captured
# application bytes with the counters the nodes keep themselves (their "stopped" events).
#   scripts/traffic.sh [--rounds R] [--base-port P] [-- EXTRA run.sh FLAGS]
# Needs tshark (apt-get install tshark) and the right to capture on lo (root, or the wireshark
# group). Writes RUN_DIR/capture.pcapng and RUN_DIR/traffic.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
base=5100
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "traffic.sh: unknown option '$1' (use --rounds R, --base-port P, -- RUN.SH FLAGS)" >&2; exit 2 ;;
  esac
done
command -v tshark >/dev/null || { echo "traffic.sh: tshark is missing (apt-get install tshark)" >&2; exit 1; }
pcap=$(mktemp /tmp/fednode-traffic.XXXXXX.pcapng)
raft="portrange $base-$((base + 3))"
data="portrange $((base + 1000))-$((base + 1003))"
tshark -i lo -q -w "$pcap" -f "udp $raft or tcp $raft or tcp $data" 2>"$pcap.err" &
tshark_pid=$!
for _ in $(seq 50); do grep -q "Capturing on" "$pcap.err" 2>/dev/null && break; sleep 0.1; done
if ! kill -0 "$tshark_pid" 2>/dev/null; then
  echo "traffic.sh: tshark cannot capture on lo: $(tr '\n' ' ' <"$pcap.err")(run as root or join the wireshark group)" >&2
  exit 1
fi

"$root/scripts/run.sh" --base-port "$base" --rounds "$rounds" "${extra[@]}"
run_dir=$(ls -d "$root"/runs/*/ | sort | tail -1)
run_dir=${run_dir%/}
sleep 1
kill -INT "$tshark_pid"
wait "$tshark_pid" 2>/dev/null || true
mv "$pcap" "$run_dir/capture.pcapng"
rm -f "$pcap.err"

# Captured application bytes per channel: UDP payload on the peer ports, TCP payload on the
# client ports (same numbers, TCP) and on the data ports.
read -r cap_raft cap_client cap_data < <(
  tshark -r "$run_dir/capture.pcapng" -T fields -e udp.srcport -e udp.dstport -e udp.length -e tcp.srcport -e tcp.dstport -e tcp.len 2>/dev/null |
    awk -F'\t' -v b="$base" '
      function peer(p) { return p >= b && p <= b + 3 }
      function dat(p) { return p >= b + 1000 && p <= b + 1003 }
      $3 != "" && (peer($1) || peer($2)) { raft += $3 - 8 }
      $6 != "" && (peer($4) || peer($5)) { client += $6 }
      $6 != "" && (dat($4) || dat($5)) { data += $6 }
      END { printf "%d %d %d\n", raft, client, data }')
# The nodes' own counters: every byte on the peer and data channels is counted once as sent;
# the client channel is counted by its servers, as received requests plus sent answers.
read -r own_raft own_client own_data < <(
  for f in "$run_dir"/node-*/events.jsonl; do grep '"event":"stopped"' "$f" | tail -1; done |
    awk '
      function get(ch, dir,   m) { if (match($0, "\"" ch "\":\\{\"bytes_in\":[0-9]+,\"bytes_out\":[0-9]+")) { m = substr($0, RSTART, RLENGTH); split(m, parts, /[:,]/); return dir == "in" ? parts[3] : parts[5] } return 0 }
      { raft += get("raft_udp", "out"); client += get("client_tcp", "in") + get("client_tcp", "out"); data += get("data_tcp", "out") }
      END { printf "%d %d %d\n", raft, client, data }')
{
  echo "traffic of a $rounds-round run on ports $base-$((base + 3)) (Raft UDP, client TCP) and $((base + 1000))-$((base + 1003)) (data TCP)"
  printf '%-16s %16s %16s %8s\n' channel "tshark bytes" "counted bytes" ratio
  for ch in raft client data; do
    c="cap_$ch" o="own_$ch"
    printf '%-16s %16d %16d %8s\n' "$ch" "${!c}" "${!o}" "$(awk -v a="${!c}" -v b="${!o}" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "-" }')"
  done
  echo "per round: Raft $((own_raft / rounds)) bytes, data plane $((own_data / rounds)) bytes"
} | tee "$run_dir/traffic.txt"
