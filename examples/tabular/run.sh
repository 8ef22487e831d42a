#!/usr/bin/env bash
# One command: scikit-learn's digits split among 4 parties with label skew (one .npz each), a
# scripted MLP, 4 local keyed peers that each train on their own file (scripts/run.sh), the
# federated model exported as TorchScript and compared with the same MLP trained centrally.
#   examples/tabular/run.sh [--parties N] [--rounds R] [--alpha A] [--testbed]
#     --testbed  the parties on separate hosts (network namespaces, scripts/testbed.sh; root)
# Needs /usr/bin/python3 with torch, numpy and sklearn (scripts/setup-deps.sh installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
parties=4
rounds=30
alpha=2.0
testbed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --parties) parties=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --alpha) alpha=$2; shift 2 ;;
    --testbed) testbed=1; shift ;;
    *) echo "examples/tabular/run.sh: unknown option '$1' (use --parties N, --rounds R, --alpha A)" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c 'import torch, numpy, sklearn' 2>/dev/null ||
  { echo "examples/tabular/run.sh: /usr/bin/python3 needs torch, numpy and sklearn (scripts/setup-deps.sh)" >&2; exit 1; }
run_dir="$root/runs/tabular-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
/usr/bin/python3 "$root/examples/tabular/make_parties.py" "$run_dir/parties" --parties "$parties" --alpha "$alpha"
if [[ $testbed -eq 1 ]]; then
  # Each host's rounds table ends with the last round's federated accuracy ('fed acc').
  exec "$root/scripts/testbed.sh" --hosts "$parties" --rounds "$rounds" --data "$run_dir/parties/party-{k}.npz" \
    --model "$run_dir/parties/mlp.pt" -- --aggregator fedavgm --lr 0.05 --local-epochs 1 --min-clients "$parties"
fi
"$root/scripts/run.sh" --run-dir "$run_dir/run" --peers "$parties" --rounds "$rounds" \
  --data "$run_dir/parties/party-{i}.npz" --model "$run_dir/parties/mlp.pt" --export "$run_dir/federated.pt" \
  -- --aggregator fedavgm --lr 0.05 --local-epochs 1 --min-clients "$parties"
/usr/bin/python3 "$root/examples/tabular/evaluate.py" "$run_dir/parties" "$run_dir/federated.pt" --epochs-total "$rounds"
