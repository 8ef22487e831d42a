#!/usr/bin/env bash
# One command: an image folder of PNGs per party (Fashion-MNIST, label skew), a scripted
# ResNet-style network with BatchNorm, 4 local keyed peers that each train on their own folder
# (scripts/run.sh), and the federated model exported as TorchScript.
#   examples/images/run.sh [--parties N] [--rounds R] [--per-party N]
# Needs /usr/bin/python3 with torch, numpy and PIL, and dataset-fashion-mnist (scripts/setup-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
parties=4
rounds=10
per_party=1500
while [[ $# -gt 0 ]]; do
  case "$1" in
    --parties) parties=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --per-party) per_party=$2; shift 2 ;;
    *) echo "examples/images/run.sh: unknown option '$1' (use --parties N, --rounds R, --per-party N)" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null ||
  { echo "examples/images/run.sh: /usr/bin/python3 needs torch, numpy and PIL (scripts/setup-deps.sh)" >&2; exit 1; }
run_dir="$root/runs/images-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
/usr/bin/python3 "$root/examples/images/make_parties.py" "$run_dir/parties" --parties "$parties" --per-party "$per_party"
# Pixels are scaled to [0, 1] and normalised with Fashion-MNIST's published mean and deviation.
"$root/scripts/run.sh" --run-dir "$run_dir/run" --peers "$parties" --rounds "$rounds" \
  --data "$run_dir/parties/party-{i}" --model "$run_dir/parties/resnet.pt" --export "$run_dir/federated.pt" \
  -- --image-channels 1 --normalize 0.286,0.353 --lr 0.02 --local-epochs 1 --min-clients "$parties"
echo "federated model: $run_dir/federated.pt (torch.jit.load it; input: N x 1 x 28 x 28, (pixel/255 - 0.286) / 0.353)"
