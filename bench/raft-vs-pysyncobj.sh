#!/usr/bin/env bash
# Side by side in one run: fednode's 3-node cluster (cluster-bench) and PySyncObj
# (bench/pysyncobj_bench.py) under the same write workload. Needs scripts/setup-deps.sh --bench.
#   bench/raft-vs-pysyncobj.sh [SECONDS] [FAILOVER_TRIALS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
seconds=${1:-5}
trials=${2:-50}
echo "== fednode"
"$build/cluster-bench" --fednode "$build/fednode" --seconds "$seconds" --trials "$trials" --dir "$build/cluster-bench-data"
echo "== PySyncObj $(/usr/bin/python3 -c 'import pysyncobj; print(getattr(pysyncobj, "__version__", ""))' 2>/dev/null)"
/usr/bin/python3 "$root/bench/pysyncobj_bench.py" --seconds "$seconds" --trials "$trials"
