#!/usr/bin/env bash
# A party's own data, measured side by side in one run:
#   1. loading a 1 GB .npz (float32 x_train, stored and deflated): fednode's reader against
#      NumPy's np.load (the anchor: what the party's own Python would do), time and peak memory;
#   2. an idle learner's resident memory once prepared: its own quarter of Fashion-MNIST as a
#      uint8 .npz and a scripted copy of fmnist-cnn, against the built-in data set held whole.
#   bench/own-data.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
out=${1:-$root/bench/results/own-data/$(date -u +%F)}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
/usr/bin/python3 -c 'import numpy, torch' 2>/dev/null || { echo "own-data.sh: needs python3-numpy and python3-torch" >&2; exit 1; }
[[ -x $build/npz-load-bench && -x $build/fednode ]] || { echo "own-data.sh: build first (make -C $build fednode npz-load-bench)" >&2; exit 1; }

if [[ "${FEDNODE_SKIP_NPZ_LOAD:-}" != 1 ]]; then
# 1. 1 GB of float32 samples: 262,144 x 1,024.
/usr/bin/python3 - "$work" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(1)
x = rng.standard_normal((262144, 1024), dtype=np.float32)
y = rng.integers(0, 10, 262144)
np.savez(sys.argv[1] + "/stored.npz", x_train=x, y_train=y)
np.savez_compressed(sys.argv[1] + "/deflated.npz", x_train=x, y_train=y)
PY
numpy_load() {
  /usr/bin/python3 - "$1" <<'PY'
import numpy as np, resource, sys, time
t = time.perf_counter()
with np.load(sys.argv[1]) as f:
    x, y = f["x_train"], f["y_train"]
print("numpy\t%.3f\t%.1f\t%d" % (time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(y)))
PY
}
{
  # Twice each, alternating, so that neither reader alone pays for a cold page cache.
  printf "file\ttry\treader\tseconds\tpeak_rss_mb\tsamples\n"
  for f in stored deflated; do
    sync
    for try in 1 2; do
      printf "%s\t%s\t%s\n" "$f" "$try" "$("$build/npz-load-bench" "$work/$f.npz")"
      printf "%s\t%s\t%s\n" "$f" "$try" "$(numpy_load "$work/$f.npz")"
    done
  done
} | tee "$out/npz-load.tsv"
rm -f "$work"/*.npz
fi

# 2. Idle learners: the whole built-in set against one party's quarter, each a single-node group.
# torch.jit.script reads the class's source: the script is a file, not stdin.
cat >"$work/make_party.py" <<'PY'
import gzip, numpy as np, torch, sys
def idx(p):
    d = gzip.open(p).read(); n = d[3]; shape = [int.from_bytes(d[4+4*i:8+4*i], "big") for i in range(n)]
    return np.frombuffer(d, np.uint8, offset=4 + 4 * n).reshape(shape)
src = "/usr/share/datasets/fashion-mnist/"
x, y = idx(src + "train-images-idx3-ubyte.gz"), idx(src + "train-labels-idx1-ubyte.gz")
xt, yt = idx(src + "t10k-images-idx3-ubyte.gz"), idx(src + "t10k-labels-idx1-ubyte.gz")
q, qt = len(y) // 4, len(yt) // 4
np.savez(sys.argv[1] + "/party.npz", x_train=x[:q, None], y_train=y[:q].astype(np.int64), x_test=xt[:qt, None], y_test=yt[:qt].astype(np.int64))
class Cnn(torch.nn.Module):  # fmnist-cnn's layout, scaling the bytes itself
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5); self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(256, 120); self.fc2 = torch.nn.Linear(120, 84); self.fc3 = torch.nn.Linear(84, 10)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x / 255.0 - 0.286) / 0.353
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))
torch.jit.script(Cnn()).save(sys.argv[1] + "/cnn.pt")
PY
/usr/bin/python3 "$work/make_party.py" "$work"
mapfile -t ports < <(/usr/bin/python3 -c 'import socket; s=[socket.socket() for _ in range(4)]; [x.bind(("127.0.0.1",0)) for x in s]; print("\n".join(str(x.getsockname()[1]) for x in s))')
start() {  # name port data-port flags...
  local name=$1 port=$2 dport=$3
  shift 3
  "$build/fednode" keygen --out "$work/$name" >/dev/null 2>&1
  "$build/fednode" "127.0.0.1:$port" --key-file "$work/$name/node.key" --data-dir "$work/$name" --data-port "$dport" "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  echo $!
}
whole=$(start whole "${ports[0]}" "${ports[1]}" --dataset fashion-mnist --dataset-dir /usr/share/datasets/fashion-mnist)
own=$(start own "${ports[2]}" "${ports[3]}" --data "$work/party.npz" --model "$work/cnn.pt")
for name in whole own; do
  for _ in $(seq 1 120); do grep -q "training prepared" "$work/$name.log" && break; sleep 0.5; done
  grep -q "training prepared" "$work/$name.log" || { echo "own-data.sh: $name never prepared: $(tail -3 "$work/$name.log")" >&2; exit 1; }
done
sleep 2
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
{
  printf "learner\tdata\trss_mb\n"
  printf "whole\tFashion-MNIST whole (60,000 + 10,000 images, built-in fmnist-cnn)\t%s\n" "$(rss "$whole")"
  printf "own\tits own quarter (15,000 + 2,500 images, uint8 .npz, scripted CNN)\t%s\n" "$(rss "$own")"
} | tee "$out/idle-learner-rss.tsv"
echo "own-data.sh: $(date -u +%FT%TZ), commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores; results in $out"
