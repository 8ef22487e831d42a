#!/usr/bin/env bash
# The previous release's data dirs, upgraded (issue 35, item 6):   upgrade_test.sh FEDNODE_BINARY
# tests/upgrade/fixture/ holds the data dirs a 3-node keyed group of fednode 0.1 wrote (its
# written-by.txt; write_fixture.sh made it): 150 key-value writes, every 7th key deleted, and a
# 10-round run stopped after its third committed round (or a little later). This binary starts on copies of them:
#   - each node says it migrated its dir from format 1 and stamps it with the current format;
#   - every node answers the fixture's key-value store exactly (deleted keys absent);
#   - every node holds the fixture's committed rounds, same ids, and the group finishes the run
#     (10 rounds, the same ids on every node);
#   - new writes commit; restarted, the nodes find their dirs current and migrate nothing;
#   - a node of another group (--cluster-id) is refused on it before it migrates anything;
#   - a dir stamped with a later format is refused with one line and left as it is.
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=lib.sh
source "$root/tests/upgrade/lib.sh"
fixture=$root/tests/upgrade/fixture
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || {
  echo "SKIP: the fixture's run trains on Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  exit 77
}
start_workspace
use_keys "$root/tests/testdata/node-keys" "$n"
tar -C "$work" -xzf "$fixture/data-dirs.tar.gz"
for i in 0 1 2; do [[ ! -e $work/d$i/format ]] || fail "the fixture's d$i already has a format file"; done
echo "fixture written by $(cat "$fixture/written-by.txt"): $(wc -l <"$fixture/rounds.txt") committed rounds"

# A node of another group is refused before it migrates (or writes) anything. (0.1 wrote no
# cluster_id: a 0.1 dir takes the cluster id of its first start under 0.2, as any dir from before
# the file; here a copy of d0 names its group, as it would once started.)
mkdir -p "$work/other"
cp -a "$work/d0" "$work/other/d0"
echo fednode >"$work/other/d0/cluster_id"
before=$(cd "$work/other/d0" && find . -type f -exec sha256sum {} + | sort; find . | sort)
set +e
timeout 20 "$bin" "$(addr 0)" "$(peer_spec 1)" "$(peer_spec 2)" --key-file "$(key_file 0)" --data-dir "$work/other/d0" \
  --data-port "$data_addr_port" --cluster-id another-group >"$work/other-group.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a node of another group on the fixture: exit $rc, not 1 ($(tail -2 "$work/other-group.log"))"
grep -q "belongs to cluster" "$work/other-group.log" || fail "another group's node was not refused by name: $(tail -2 "$work/other-group.log")"
[[ "$before" == "$(cd "$work/other/d0" && find . -type f -exec sha256sum {} + | sort; find . | sort)" ]] ||
  fail "a node of another group changed the fixture's dir before it was refused"
echo "a node of another group is refused and writes nothing (no migration)"

for i in 0 1 2; do start_node "$bin" "$i" "${fl_args[@]}"; done
for i in 0 1 2; do
  wait_for 10 "node $i did not say it migrated its data dir" grep -q "data dir format 1 migrated to 2" "$work/log$i"
  [[ "$(cat "$work/d$i/format")" == "fednode data dir format 2" ]] || fail "d$i/format: '$(cat "$work/d$i/format")'"
done
has_leader() { leader_of "$bin" >/dev/null; }
wait_for 30 "the upgraded group elected no leader" has_leader

expected_kv | awk '$2 != "-"' >"$work/kv-expected.txt"
kv_matches() { kv_of "$bin" "$1" | cmp -s - "$work/kv-expected.txt"; }
for i in 0 1 2; do
  wait_for 20 "node $i does not answer the fixture's key-value store ($(kv_of "$bin" "$i" | wc -l) of $(wc -l <"$work/kv-expected.txt") keys alike)" kv_matches "$i"
done
echo "every node answers the fixture's $(wc -l <"$work/kv-expected.txt") keys (and not the 22 deleted)"

wait_for 300 "the upgraded group did not finish the run (10 rounds, the same ids on every node)" rounds_agree "$bin" 10
head -"$(wc -l <"$fixture/rounds.txt")" "$work/rounds-0.txt" | cmp -s - "$fixture/rounds.txt" ||
  fail "the upgraded nodes' first rounds differ from the fixture's: $(head -3 "$work/rounds-0.txt" | tr '\n' ' ')"
echo "rounds 1-$(wc -l <"$fixture/rounds.txt") kept, the run finished: 10 rounds, the same ids on every node"

ctl_as "$(leader_of "$bin")" "$bin" set w1 after-upgrade >/dev/null || fail "a write after the upgrade failed"
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}" || true; done
for i in 0 1 2; do start_node "$bin" "$i" "${fl_args[@]}"; done
wait_for 30 "the restarted group elected no leader" has_leader
has_w1() { kv_of "$bin" "$1" | grep -qx "w1 after-upgrade"; }
for i in 0 1 2; do wait_for 20 "node $i lost the write after the upgrade" has_w1 "$i"; done
[[ $(grep -c "migrated to" "$work/log0") -eq 1 ]] || fail "node 0 migrated its dir again at the second start"

# A later format is refused, before anything is written.
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}" || true; done
pids=()
echo "fednode data dir format 3" >"$work/d0/format"
before=$(cd "$work/d0" && find . -type f -exec sha256sum {} + | sort; find . | sort)
set +e
timeout 20 "$bin" "$(addr 0)" "$(peer_spec 1)" "$(peer_spec 2)" --key-file "$(key_file 0)" --data-dir "$work/d0" \
  --data-port "$data_addr_port" >"$work/later.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a dir in a later format: exit $rc, not 1 ($(tail -2 "$work/later.log"))"
grep -q "is in data dir format 3 ($work/d0/format), written by a later fednode; this one reads formats 1 to 2" "$work/later.log" ||
  fail "a dir in a later format was not refused by name: $(tail -2 "$work/later.log")"
after=$(cd "$work/d0" && find . -type f -exec sha256sum {} + | sort; find . | sort)
[[ "$before" == "$after" ]] || fail "the refused start changed files in the dir"
echo "a dir in a later format is refused with one line and left as it was"
echo "PASS"
