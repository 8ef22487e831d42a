# shellcheck shell=bash
# What the upgrade tests and the fixture writer share (sourced after tests/cluster/lib.sh): a 3-node
# keyed group on fixed loopback addresses 127.77.0.1-3 (the data dirs record them, so a fixture is
# replayed on the same ones), with the test-only keys of tests/testdata/node-keys.
n=3
addr() { echo "127.77.0.$(($1 + 1)):7000"; }
data_addr_port=7100
# start_node BIN I FLAGS...: node I of the group with BIN, its data dir $work/dI, log $work/logI.
start_node() {
  local b=$1 i=$2 j others=()
  shift 2
  for j in $(seq 0 $((n - 1))); do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  "$b" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --data-dir "$work/d$i" \
    --data-port "$data_addr_port" "$@" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
# The runs of these tests: Debian's Fashion-MNIST, small; the log compacted often, so that a dir
# holds a snapshot and a log after it. The fixture's run is 10 rounds, stopped after its third.
fl_common=(--dataset fashion-mnist --dataset-dir /usr/share/datasets/fashion-mnist --train-limit 600
  --test-limit 200 --local-epochs 1 --min-clients 2 --keep-models 2 --snapshot-entries 64)
fl_args=("${fl_common[@]}" --rounds 10 --deadline-s 30)
ctl_as() { local i=$1 b=$2; shift 2; "$b" ctl --key-file "$(key_file "$i")" "$(addr "$i")" "$@"; }
# leader_of BIN: the index of the leader as node 0..2 see it (the first that answers).
leader_of() {
  local i a k
  for i in 0 1 2; do
    a=$(ctl_as "$i" "$1" status 2>/dev/null | awk '$2 == "Leader" { print $1 }' | head -1)
    [[ -n "$a" ]] || continue
    for k in 0 1 2; do [[ "$(addr "$k")" == "$a" ]] && { echo "$k"; return 0; }; done
  done
  return 1
}
# committed_rounds BIN I: "round model-id" lines of the rounds node I has committed.
committed_rounds() { ctl_as "$2" "$1" rounds --tsv 2>/dev/null | awk -F'\t' '$1 ~ /^[0-9]+$/ { print $1, $2 }'; }
# The key-value writes of the fixture: set k000..k149, then delete every 7th; expected_kv prints
# what a reader must find afterwards, "key value" per line ("key -" when deleted).
kv_value() { echo "value-$1-from-0.1"; }
expected_kv() {
  local i
  for i in $(seq 0 149); do
    if ((i % 7 == 0)); then echo "k$(printf %03d "$i") -"; else echo "k$(printf %03d "$i") $(kv_value "$i")"; fi
  done
}
# kv_of BIN I: the key-value store as node I answers it, "key value" per line, sorted; only the
# fixture's keys (k000-k149) and the writers' (w*).
kv_of() {
  ctl_as "$2" "$1" get 2>/dev/null | /usr/bin/python3 -c '
import re, sys
for k, v in sorted(re.findall(r"\"((?:k\d{3})|(?:w\d+))\":\"([^\"]*)\"", sys.stdin.read())):
    print(k, v)'
}
# rounds_agree BIN COUNT: every node has committed COUNT rounds, the same ids.
rounds_agree() {
  local i first=""
  for i in 0 1 2; do
    committed_rounds "$1" "$i" >"$work/rounds-$i.txt"
    [[ $(wc -l <"$work/rounds-$i.txt") -eq $2 ]] || return 1
    [[ -z "$first" ]] && first=$work/rounds-$i.txt
    cmp -s "$first" "$work/rounds-$i.txt" || return 1
  done
}
