#!/usr/bin/env bash
# The Prometheus rules shipped in packaging/prometheus: promtool checks them and runs their unit
# tests (each alert fires on the series that should raise it, and not on healthy ones), and every
# fednode metric they name is one the node exports (src/app/node_metrics.cpp). Skips (77) without
# promtool (Debian package prometheus).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (apt-get install prometheus)"; exit 77; }
cd "$root/packaging/prometheus"
promtool check rules fednode-rules.yml
promtool test rules fednode-rules.test.yml
missing=0
for name in $(grep -oE 'fednode_[a-z_]+' fednode-rules.yml | sort -u); do
  grep -q "\"$name\"" "$root/src/app/node_metrics.cpp" || { echo "FAIL: the rules name $name, which the node does not export" >&2; missing=1; }
done
[[ $missing -eq 0 ]] || exit 1
echo "PASS: $(grep -c 'alert:' fednode-rules.yml) alerts and $(grep -c 'record:' fednode-rules.yml) recording rules checked and tested"
