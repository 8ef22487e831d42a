#!/usr/bin/env bash
# Training throughput of the CIFAR-10 CNN, side by side on one core, four ways:
#   fednode's built-in network (C++, libtorch)
#   fednode --model FILE: the same network scripted in Python (torch.jit.script) and loaded
#   PyTorch-Python (Debian's python3-torch), the eager network
#   PyTorch-Python training the same scripted file (torch.jit.load)
# Same batch (32), SGD with momentum 0.9, lr 0.01, 1 thread, the same images.
#   bench/train-throughput.sh [CIFAR_DIR] [EPOCHS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/../shared/datasets/cifar10-subset/cifar-10-batches-bin}
epochs=${2:-3}
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
[[ -x "$bin" ]] || { echo "train-throughput.sh: build first (scripts/build.sh)" >&2; exit 1; }
[[ -f "$dir/data_batch_1.bin" ]] || { echo "train-throughput.sh: no CIFAR-10 batches in $dir" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train-throughput.sh: needs Debian's python3-torch (scripts/setup-deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/bench/train_bench.py" --script-out "$work/cnn.pt"
# The first epoch warms caches; report the median of the later ones.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fednode() {
  "$bin" train-local --dataset cifar10 --dataset-dir "$dir" --epochs "$epochs" --threads 1 "$@" |
    awk '/^epoch/ && !/epoch +1\// {gsub(/[(,]/,""); for(i=1;i<=NF;i++) if($i=="images/s)") print $(i-1)}' | median
}
python() { /usr/bin/python3 "$root/bench/train_bench.py" --dataset-dir "$dir" --epochs "$epochs" --threads 1 "$@" | awk 'NR>1 {print $3}' | median; }
builtin=$(fednode)
scripted=$(fednode --model "$work/cnn.pt")
py=$(python)
py_scripted=$(python --module "$work/cnn.pt")
version=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')
printf "CIFAR-10 CNN training, batch 32, SGD momentum 0.9, 1 thread, data %s, %s\n" "$dir" "$(date -u +%F)"
printf "%-44s %12s\n" "implementation" "images/s"
printf "%-44s %12s\n" "fednode, built-in network (C++, libtorch)" "$builtin"
printf "%-44s %12s\n" "fednode --model (the network scripted)" "$scripted"
printf "%-44s %12s\n" "PyTorch-Python $version, eager" "$py"
printf "%-44s %12s\n" "PyTorch-Python $version, the scripted file" "$py_scripted"
awk -v a="$scripted" -v b="$builtin" 'BEGIN {printf "fednode --model / built-in:        %.2fx (goal >= 0.95)\n", a / b}'
awk -v a="$scripted" -v b="$py_scripted" 'BEGIN {printf "fednode --model / Python, same file: %.2fx (goal >= 1.0)\n", a / b}'
awk -v a="$builtin" -v b="$py" 'BEGIN {printf "fednode built-in / Python eager:    %.2fx\n", a / b}'
