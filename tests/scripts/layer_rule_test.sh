#!/usr/bin/env bash
# The layers (docs/ARCHITECTURE: util <- raft <- storage/crypto/fl <- net <- app): a lower area
# never includes a higher one, in its sources or its headers. Prints every breach and fails.
#   layer_rule_test.sh REPO_ROOT
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
declare -A higher=(
  [util]="raft storage crypto fl net app"
  [raft]="storage crypto fl net app"
  [storage]="net app"
  [crypto]="net app"
  [fl]="net app"
  [net]="app"
)
breaches=0
for area in "${!higher[@]}"; do
  for up in ${higher[$area]}; do
    while IFS= read -r hit; do
      echo "layer rule: $area includes $up: $hit"
      breaches=$((breaches + 1))
    done < <(grep -rn "#include \"fednode/$up/" "$root/src/$area" "$root/include/fednode/$area" 2>/dev/null || true)
  done
done
[[ $breaches -eq 0 ]] || exit 1
echo "ok: no area includes a higher one"
