#!/usr/bin/env bash
# Writes the upgrade fixture with the PREVIOUS release's binary: tests/upgrade/write_fixture.sh
# OLD_FEDNODE OUT_DIR. A 3-node keyed group (tests/upgrade/lib.sh) takes the fixture's key-value
# writes, is restarted with a 10-round run and trains until 3 rounds are committed; it is then stopped (SIGTERM) and its data dirs are
# packed into OUT_DIR/data-dirs.tar.gz, with OUT_DIR/rounds.txt: the rounds the leader had
# committed ("round model-id"), which every upgraded node must hold the same. Run by hand once per
# release (docs/upgrades.md); the upgrade test replays what it wrote.
set -euo pipefail
old=$1 out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=lib.sh
source "$root/tests/upgrade/lib.sh"
start_workspace
use_keys "$root/tests/testdata/node-keys" "$n"
# First the key-value writes, with no run (--rounds 0), then a restart with the run: the dirs
# hold a log across restarts.
for i in 0 1 2; do start_node "$old" "$i" --rounds 0 --snapshot-entries 64; done
has_leader() { leader_of "$old" >/dev/null; }
wait_for 30 "the group elected no leader" has_leader
for i in $(seq 0 149); do
  ctl_as "$(leader_of "$old")" "$old" set "k$(printf %03d "$i")" "$(kv_value "$i")" >/dev/null || fail "set k$i"
done
for i in $(seq 0 7 149); do ctl_as "$(leader_of "$old")" "$old" del "k$(printf %03d "$i")" >/dev/null || fail "del k$i"; done
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}" || true; done
for i in 0 1 2; do start_node "$old" "$i" "${fl_args[@]}"; done
wait_for 30 "the restarted group elected no leader" has_leader
three_rounds() { [[ $(committed_rounds "$old" "$(leader_of "$old")" | wc -l) -ge 3 ]]; }
wait_for 300 "3 rounds were not committed" three_rounds
l=$(leader_of "$old")
committed_rounds "$old" "$l" >"$work/rounds.txt"
# Every node holds those rounds before the group stops (followers apply a moment later).
holds_them() { local i; for i in 0 1 2; do committed_rounds "$old" "$i" | head -"$(wc -l <"$work/rounds.txt")" | cmp -s - "$work/rounds.txt" || return 1; done; }
wait_for 30 "a follower does not hold the leader's rounds" holds_them
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}" || true; done
pids=()
mkdir -p "$out"
"$old" --version >"$out/written-by.txt"
cp "$work/rounds.txt" "$out/rounds.txt"
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -czf "$out/data-dirs.tar.gz" d0 d1 d2
echo "wrote $out: $(wc -l <"$out/rounds.txt") rounds, $(du -k "$out/data-dirs.tar.gz" | cut -f1) KiB of data dirs"
