#!/usr/bin/env bash
# The layers (docs/architecture.md: util <- raft <- storage/crypto/fl <- net <- ctl <- app): a
# lower area never includes a higher one, in its sources or its headers. ctl (the client tool,
# keygen, train-local) never sees the daemon; app (the daemon and the binary's entry point) may
# call into ctl. Prints every breach and fails.
#   layer_rule_test.sh REPO_ROOT
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
declare -A higher=(
  [util]="raft storage crypto fl net ctl app"
  [raft]="storage crypto fl net ctl app"
  [storage]="net ctl app"
  [crypto]="net ctl app"
  [fl]="net ctl app"
  [net]="ctl app"
  [ctl]="app"
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
