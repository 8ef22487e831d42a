#!/usr/bin/env bash
# Training throughput of the CIFAR-10 CNN, fednode (C++/libtorch) against the same model and
# loop in PyTorch-Python (Debian's python3-torch), side by side on one core.
#   bench/train-throughput.sh [CIFAR_DIR] [EPOCHS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/../shared/datasets/cifar10-subset/cifar-10-batches-bin}
epochs=${2:-3}
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
[[ -x "$bin" ]] || { echo "train-throughput.sh: build first (scripts/build.sh)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train-throughput.sh: needs Debian's python3-torch (scripts/setup-deps.sh --bench)" >&2; exit 1; }
# The first epoch warms caches; report the median of the later ones.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpp=$("$bin" train-local --dataset cifar10 --dataset-dir "$dir" --epochs "$epochs" --threads 1 |
      awk '/^epoch/ && !/epoch +1\// {gsub(/[(,]/,""); for(i=1;i<=NF;i++) if($i=="images/s)") print $(i-1)}' | median)
py=$(/usr/bin/python3 "$root/bench/train_bench.py" --dataset-dir "$dir" --epochs "$epochs" --threads 1 |
     awk 'NR>1 {print $3}' | median)
printf "CIFAR-10 CNN training, batch 32, SGD momentum 0.9, 1 thread, data %s\n" "$dir"
printf "%-28s %12s\n" "implementation" "images/s"
printf "%-28s %12s\n" "fednode (C++, libtorch)" "$cpp"
printf "%-28s %12s\n" "PyTorch-Python $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')" "$py"
awk -v a="$cpp" -v b="$py" 'BEGIN {printf "ratio C++ / Python: %.2fx\n", a / b}'
