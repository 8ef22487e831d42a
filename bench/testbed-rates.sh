#!/usr/bin/env bash
# Round time against link rate on the namespace testbed: for every host count and every rate,
# a fresh group whose every host link (both ways) is limited with tc tbf trains R rounds.
# Round time is the interval between two round_commits as host 1 applied them (its monotonic
# clock); round 1 also holds start-up (data loading, the initial model) and is shown apart.
#   bench/testbed-rates.sh [--hosts "4 8"] [--rates "1000 100 10"] [--rounds R] [--dataset D] [-- FLAGS]
# Writes runs/testbed-rates-<time>/ (one directory per run) and rates.txt there. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
host_counts="4 8"
rates="1000 100 10"
rounds=4
dataset=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) host_counts=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed-rates.sh: unknown option '$1' (--hosts \"N..\", --rates \"MBIT..\", --rounds R, --dataset D, -- FLAGS)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[2-9]$|^[1-9][0-9]+$ ]] || { echo "testbed-rates.sh: --rounds must be at least 2" >&2; exit 2; }
source "$root/tests/cluster/lib.sh"
source "$root/tests/testbed/lib.sh"
source "$root/tests/testbed/peers.sh"
tbp_prepare_experiment testbed-rates "$dataset"
TBP_FLAGS=(--rounds "$rounds" --torch-threads 1 "${data[@]}" "${extra[@]}")
{
  echo "round time against link rate: ${data[1]}, $rounds rounds per run, every link limited both ways (tc tbf)"
  printf '%5s %10s %11s %16s %18s %16s %14s\n' hosts "Mbit/s" "round 1 (s)" "rounds 2.. (s)" "slowest train (s)" "data MB/round" "vs 1000 Mbit/s"
} | tee "$out/rates.txt"
for n in $host_counts; do
  base=""
  for rate in $rates; do
    TBP_WORK="$out/n$n-r$rate"
    TBP_N=$n
    mkdir -p "$TBP_WORK"
    tb_init "$n"
    for k in $(seq 1 "$n"); do tb_rate "$k" "$rate"; done
    tbp_start_all
    if ! tbp_wait_rounds any "$rounds" $((300 + 300 * rounds)); then
      echo "testbed-rates.sh: $n hosts at $rate Mbit/s did not finish; see $TBP_WORK" >&2
      tb_cleanup
      continue
    fi
    tb_cleanup
    # Host 1's commits on its monotonic clock; training time and data bytes from every host.
    read -r first rest slow mb < <(python3 - "$TBP_WORK" "$n" "$rounds" <<'EOF'
import json, sys
work, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def events(k):
    with open(f"{work}/d{k}/events.jsonl") as f:
        return [json.loads(l) for l in f if l.strip()]
commits, started = {}, None
for e in events(1):
    if e["event"] == "started" and started is None:
        started = e["mono_ms"]
    if e["event"] == "round_commit" and e["round"] not in commits:
        commits[e["round"]] = e["mono_ms"]
slowest, data = {}, 0
for k in range(1, n + 1):
    last = None
    for e in events(k):
        if e["event"] == "update_received":
            slowest[e["round"]] = max(slowest.get(e["round"], 0), e["train_seconds"])
        if e["event"] == "round_commit" and e["round"] == rounds and last is None:
            last = e["data_tcp"]["bytes_out"]
    data += last or 0
steady = [(commits[r] - commits[r - 1]) / 1000 for r in range(2, rounds + 1)]
train = [slowest.get(r, 0) for r in range(2, rounds + 1)]
print(f"{(commits[1] - started) / 1000:.2f} {sum(steady) / len(steady):.2f} {sum(train) / len(train):.2f} {data / rounds / 1e6:.2f}")
EOF
    )
    [[ -z "$base" ]] && base=$rest
    printf '%5d %10s %11s %16s %18s %16s %13.2fx\n' "$n" "$rate" "$first" "$rest" "$slow" "$mb" \
      "$(awk -v a="$rest" -v b="$base" 'BEGIN { print a / b }')" | tee -a "$out/rates.txt"
  done
done
echo "figures in $out/rates.txt"
