#!/usr/bin/env bash
# Many trainers that come and go: 3 voters and 12 learners that add themselves (secure mode, the
# default), on small shards of the CIFAR-10 subset (else Fashion-MNIST, else skipped).
#   learners_test.sh FEDNODE_BINARY
# - 10 learners start with `--join SEED` (one voter each, so most requests are redirected to the
#   leader) and become learners; 2 more join while rounds run.
# - A learner stopped with SIGTERM asks to be removed and is (exit 0); it restarts from its data
#   dir with --join and is a learner again.
# - A learner killed with kill -9 is removed by the leader after --evict-after (an `evicted`
#   event); a key the voters do not admit never gets in.
# - Every round commits on every voter; late joiners train in later rounds; some round has at
#   least 10 trainers.
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
fl_pick_dataset
[[ ${data[1]} == cifar10 ]] && train_limit=(--train-limit 3000)

start_workspace

voters=3
n=16  # 0-2 voters, 3-14 learners, 15 a stranger whose key is not admitted
rounds=30
mapfile -t all_ports < <(free_ports $((2 * n)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n}")
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
admit=()
for i in $(seq "$voters" $((n - 2))); do admit+=(--admit-key "${keys[$i]}"); done
common=(--rounds "$rounds" --min-clients 3 --min-available 8 --deadline-s 10 --torch-threads 1 "${data[@]}" "${train_limit[@]}")

start_voter() {
  local i=$1 others=()
  for j in $(seq 0 $((voters - 1))); do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  "$bin" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --data-dir "$work/d$i" --data-port "${dports[$i]}" \
    --evict-after 3 "${admit[@]}" "${common[@]}" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
start_learner() {  # the seed is one voter: most requests reach a follower and are redirected
  local i=$1
  "$bin" "$(addr "$i")" --join "$(peer_spec $((i % voters)))" --key-file "$(key_file "$i")" --data-dir "$work/d$i" \
    --data-port "${dports[$i]}" "${common[@]}" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
ctl() { "$bin" ctl "$@"; }  # plaintext on loopback: a local operator
# The learners (HOST:PORT) in the membership as voter 0 knows it.
learner_list() { ctl "$(addr 0)" status 2>/dev/null | awk '/\(learner\)/ {print $1}' | sort; }
is_learner() { learner_list | grep -qx "$(addr "$1")"; }
# Every member (reachable or not) as voter 0's applied membership lists them.
is_member() { ctl "$(addr 0)" status 2>/dev/null | awk 'NR > 1 {print $1}' | grep -qx "$(addr "$1")"; }
learners_are() { [[ $(learner_list | wc -l) -eq $1 ]]; }
committed() { ctl "$(addr "$1")" rounds --tsv 2>/dev/null | wc -l; }
at_least_rounds() { [[ $(committed "$1") -ge $2 ]]; }
not_member() { ! is_member "$1"; }

for i in $(seq 0 $((voters - 1))); do start_voter "$i"; done
for i in $(seq "$voters" 12); do start_learner "$i"; done
wait_for 90 "10 learners did not all join: $(learner_list | tr '\n' ' ')" learners_are 10
echo "10 learners joined by themselves"
grep -q "asked to join as a learner" "$work"/log{3..12} || fail "no learner reports its admission"

# Two more while the rounds run.
wait_for 120 "no round committed" at_least_rounds 0 1
start_learner 13
start_learner 14
wait_for 60 "the late joiners did not become learners" learners_are 12
echo "2 more joined during round $(($(committed 0) + 1))"

# A stranger (key not admitted) asks and never gets in.
"$bin" "$(addr 15)" --join "$(peer_spec 0)" --key-file "$(key_file 15)" --data-dir "$work/d15" --data-port "${dports[15]}" \
  "${common[@]}" >>"$work/log15" 2>&1 &
pids[15]=$!

# SIGTERM: the learner asks to leave, is removed, exits 0.
kill -TERM "${pids[3]}"
code=0
wait "${pids[3]}" || code=$?
[[ $code -eq 0 ]] || fail "learner 3 exited $code after SIGTERM"
grep -q "left the group" "$work/log3" || fail "learner 3 did not say it left"
wait_for 10 "learner 3 is still a member after leaving" not_member 3
echo "learner 3 left on SIGTERM"

# kill -9: the leader evicts it after --evict-after 3.
kill -9 "${pids[4]}"
wait_for 20 "learner 4 was not evicted" not_member 4
grep -h '"evicted"' "$work"/d{0,1,2}/events.jsonl | grep -q "$(addr 4)" || fail "no evicted event names learner 4"
echo "learner 4 evicted"

# Learner 3 comes back from its data dir and joins again.
start_learner 3
wait_for 30 "learner 3 did not rejoin" is_learner 3
echo "learner 3 rejoined"

is_member 15 && fail "the stranger with a key not admitted became a member"
grep -q "admit" "$work/log15" || fail "the stranger's log does not say why it is not admitted"

for i in 0 1 2; do wait_for 300 "voter $i did not commit all $rounds rounds" at_least_rounds "$i" "$rounds"; done
tsv=$(ctl "$(addr 0)" rounds --tsv)
for i in 1 2; do
  [[ "$(ctl "$(addr "$i")" rounds --tsv | cut -f1,2)" == "$(echo "$tsv" | cut -f1,2)" ]] || fail "voter $i reports other rounds"
done
[[ $(echo "$tsv" | cut -f1 | tr '\n' ' ') == "$(seq -s ' ' 1 "$rounds") " ]] || fail "rounds are not 1..$rounds"
most=$(echo "$tsv" | awk -F'\t' '{print split($4, a, ",")}' | sort -n | tail -1)
[[ $most -ge 10 ]] || fail "no round had 10 trainers (at most $most)"
echo "$tsv" | cut -f4 | grep -q "$(addr 13)\|${ports[13]}" || fail "late joiner 13 never trained: $(echo "$tsv" | cut -f4)"
echo "PASS: $rounds rounds with up to $most trainers while learners joined, left, died and were evicted"
