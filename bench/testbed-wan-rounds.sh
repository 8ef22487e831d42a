#!/usr/bin/env bash
# Federated rounds over slow, lossy paths: scikit-learn's digits among 4 hosts on the testbed
# (examples/tabular: each its own .npz and the scripted MLP), every host sending with RTT/2 ms of
# delay (jitter RTT/10) and losing PCT % of what it receives, --network wan. Per case, from the
# nodes' events: each round's time (its start to its commit, on the aggregator) against the
# slowest trainer's local training in it; medians over the rounds after the first. Needs root
# and /usr/bin/python3 with torch, numpy and sklearn.
#   bench/testbed-wan-rounds.sh [--rtt 50,100,200] [--loss 0,1,5] [--rounds R] [--epochs E]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rtts=50,100,200 losses=0,1,5 rounds=8 epochs=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rtt) rtts=$2; shift 2 ;;
    --loss) losses=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    *) echo "testbed-wan-rounds.sh: unknown option '$1' (see the top of the script)" >&2; exit 2 ;;
  esac
done
for v in rounds epochs; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 1 || $v == epochs ]] || { echo "testbed-wan-rounds.sh: --$v '${!v}' must be a whole number above 1" >&2; exit 2; }
done
work=$(mktemp -d /tmp/fednode-wan-rounds.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/examples/tabular/make_parties.py" "$work/parties" --parties 4 >/dev/null
printf "rtt_ms\tloss_pct\trounds\tround_s_median\tslowest_training_s_median\toverhead_s_median\n"
IFS=, read -ra rr <<<"$rtts"
IFS=, read -ra ll <<<"$losses"
for rtt in "${rr[@]}"; do
  for loss in "${ll[@]}"; do
    delay=$((rtt / 2)):$((rtt / 10))
    before=$(ls -d "$root"/runs/testbed-* 2>/dev/null | tail -1 || true)
    lossy=()
    [[ "$loss" != 0 ]] && lossy=(--loss "$loss")
    "$root/scripts/testbed.sh" --hosts 4 --rounds "$rounds" --delay "$delay" "${lossy[@]}" \
      --data "$work/parties/party-{k}.npz" --model "$work/parties/mlp.pt" \
      -- --network wan --aggregator fedavg --lr 0.05 --local-epochs "$epochs" --min-clients 4 >"$work/run.out" 2>&1 ||
      { echo "testbed-wan-rounds.sh: the run at $rtt ms, $loss % failed: $(tail -5 "$work/run.out")" >&2; continue; }
    run=$(ls -d "$root"/runs/testbed-* | tail -1)
    [[ "$run" != "$before" ]] || { echo "testbed-wan-rounds.sh: no run directory for $rtt ms, $loss %" >&2; continue; }
    /usr/bin/python3 - "$run" "$rtt" "$loss" <<'PY'
import glob, json, statistics, sys
run, rtt, loss = sys.argv[1:4]
commits, trained = {}, {}
for f in glob.glob(run + "/d*/events.jsonl"):
    for line in open(f):
        e = json.loads(line)
        if e.get("event") == "round_commit":
            commits[e["round"]] = (e["end_ms"] - e["start_ms"]) / 1000
        elif e.get("event") == "trained":
            key = (f, e["round"])
            trained[key] = e["seconds"]  # the last attempt's
slowest = {}
for (f, r), s in trained.items():
    slowest[r] = max(slowest.get(r, 0), s)
rs = [r for r in sorted(commits) if r > 1 and r in slowest]
if not rs:
    sys.exit(f"no rounds after the first with training times in {run}")
med = lambda xs: statistics.median(xs)
print(f"{rtt}\t{loss}\t{len(rs)}\t{med([commits[r] for r in rs]):.2f}\t{med([slowest[r] for r in rs]):.2f}\t"
      f"{med([commits[r] - slowest[r] for r in rs]):.2f}")
PY
  done
done
