#!/usr/bin/env bash
# A real N-process cluster on loopback (random free ports): writes and reads through any node,
# kill -9 of the leader under writes (every acknowledged write survives), restart from disk,
# bad client input, graceful SIGTERM with leadership transfer.
#   cluster_test.sh FEDNODE_BINARY [N]
set -euo pipefail
bin=$1
n=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
start_workspace

ports=()
# Peer and data ports of the n founders and of the node added later, all distinct.
mapfile -t all_ports < <(free_ports $((2 * (n + 2))))
ports=("${all_ports[@]:0:n+2}")
dports=("${all_ports[@]:n+2}")
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys $((n + 2))  # the founders, the node added later, a stranger
opkey=$("$bin" keygen --out "$work/keys/operator" 2>/dev/null)  # an operator who runs no node
start() {
  local i=$1 others=()
  for j in $(seq 0 $((n - 1))); do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  "$bin" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --operator-key "$opkey" --data-dir "$work/d$i" \
    --data-port "${dports[$i]}" --log-level info >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
ctl() { "$bin" ctl "$@"; }
leader() {
  for i in $(seq 0 $((n - 1))); do
    kill -0 "${pids[$i]}" 2>/dev/null || continue
    ctl "$(addr "$i")" diagnostic 2>/dev/null | grep -q '"status":"Leader"' && { echo "$i"; return 0; }
  done
  return 1
}
wait_leader() {
  for _ in $(seq 100); do leader && return 0; sleep 0.1; done
  fail "no leader elected"
}

for i in $(seq 0 $((n - 1))); do start "$i"; done
l=$(wait_leader)
echo "leader: node $l"

# Writes through every node (followers redirect; ctl follows) and a linearizable read.
for k in $(seq 1 10); do
  out=$(ctl "$(addr $((k % n)))" set "k$k" "v$k") || fail "write k$k: $out"
  [[ "$out" == ok ]] || fail "write k$k answered $out"
done
# A user key named "id" is the user's: get prints the store, not the request's id beside it.
out=$(ctl "$(addr 0)" set id 42) || fail "write id: $out"
got=$(ctl "$(addr 0)" get)
for k in $(seq 1 10); do [[ "$got" == *"\"k$k\":\"v$k\""* ]] || fail "k$k missing from $got"; done
[[ "$got" == *'"id":"42"'* && "$got" != *'"id":1'* ]] || fail "get mixes the request id with the key 'id': $got"
# A node's files are its owner's alone (0600, directories 0700).
shared=$(find "$work/d0" -perm /077 | head -3)
[[ -z "$shared" ]] || fail "files readable by others in the data dir: $shared"

# kill -9 the leader during a write load; every acknowledged write must survive.
acked=()
( for k in $(seq 100 115); do
    for i in $(seq 0 $((n - 1))); do
      if out=$(ctl "$(addr "$i")" set "w$k" "x" 2>/dev/null) && [[ "$out" == ok ]]; then echo "w$k"; break; fi
    done
  done ) > "$work/acked" &
loader=$!
sleep 0.3
kill -9 "${pids[$l]}"
killed=$l
t0=$(date +%s%N)
wait "$loader" || true
new=$(wait_leader)
[[ "$new" != "$killed" ]] || fail "the killed node is leader"
out=$(ctl "$(addr "$new")" set after-kill yes) || fail "write after failover: $out"
echo "failover: node $new leads ($(( ($(date +%s%N) - t0) / 1000000 )) ms including the load)"
got=$(ctl "$(addr "$new")" get)
count=0
while read -r key; do
  [[ "$got" == *"\"$key\":\"x\""* ]] || fail "acknowledged write $key lost"
  count=$((count + 1))
done < "$work/acked"
echo "$count acknowledged writes during the kill all present"
[[ $count -gt 3 ]] || fail "too few writes acknowledged during the kill ($count)"

# Restart the killed node from its data dir: it rejoins and catches up.
start "$killed"
for _ in $(seq 100); do
  true
  stale=$(printf '\x82\xa4type\xa3get\xa5stale\xc3' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${ports[$killed]}; cat >&3; cat <&3" 2>/dev/null | tr -d '\0' || true)
  [[ "$stale" == *after-kill* ]] && break
  sleep 0.1
done
[[ "$stale" == *after-kill* ]] || fail "restarted node did not catch up"
echo "restarted node caught up from its log"

# Bad input gets {type: error} and the node keeps serving.
for bad in 'hello' $'\xc1' $'\x93\x01\x02\x03' $'\x81\xa4type\xa4nope' $'\x81\xa4type\x07'; do
  reply=$(printf '%s' "$bad" | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${ports[$new]}; cat >&3; cat <&3" 2>/dev/null | tr -d '\0' || true)
  [[ "$reply" == *error* ]] || fail "no error for bad request $(printf '%q' "$bad"): $reply"
done
ctl "$(addr "$new")" set still serving >/dev/null || fail "node stopped serving after bad input"
# Garbage datagrams on the Raft port are counted and dropped.
for _ in 1 2 3; do printf 'garbage' > "/dev/udp/127.0.0.1/${ports[$new]}"; done
sleep 0.2
ctl "$(addr "$new")" diagnostic | grep -q '"dropped_in":[1-9]' || fail "garbage datagrams not counted"

# Strangers with the right cluster id: one with a key of its own (not in the membership) that
# bootstraps a group with the members' real keys and campaigns, one in --insecure mode. Their
# datagrams are dropped unread and counted; the group's term and membership do not move.
diag() { ctl "$(addr "$new")" diagnostic | events_py json "$1"; }
s=$((n + 1))
term_before=$(diag persist.currentTerm)
failed_before=$(diag stats.raft_udp.auth_failed)
members=(); plain=()
for i in $(seq 0 $((n - 1))); do members+=("$(peer_spec "$i")"); plain+=("$(addr "$i")"); done
"$bin" "$(addr "$s")" "${members[@]}" --key-file "$(key_file "$s")" --data-dir "$work/stranger" \
  --data-port "${dports[$s]}" >>"$work/log-stranger" 2>&1 &
spid=$!
sleep 3
kill -9 "$spid"; wait "$spid" 2>/dev/null || true
"$bin" "$(addr "$s")" "${plain[@]}" --insecure --data-dir "$work/stranger-plain" --data-port "${dports[$s]}" \
  >>"$work/log-stranger" 2>&1 &
spid=$!
sleep 3
kill -9 "$spid"; wait "$spid" 2>/dev/null || true
failed_after=$(diag stats.raft_udp.auth_failed)
[[ $failed_after -gt $((failed_before + 4)) ]] || fail "strangers' datagrams not counted as auth_failed ($failed_before -> $failed_after)"
[[ $(diag persist.currentTerm) -eq $term_before ]] || fail "a stranger moved the term from $term_before to $(diag persist.currentTerm)"
[[ $(ctl "$(addr "$new")" status | grep -c 127.0.0.1) -eq $n ]] || fail "a stranger became a member"
echo "strangers dropped: $((failed_after - failed_before)) datagrams failed authentication, term unchanged"

# The sealed client channel: a node's own key may write; another member's key may only read; a
# stranger's key fails the handshake.
o=$(( (new + 1) % n ))
out=$("$bin" ctl --key-file "$(key_file "$new")" "$(addr "$new")" set sealed yes) && [[ "$out" == ok ]] ||
  fail "the node's own key could not write over the sealed channel: $out"
out=$("$bin" ctl --key-file "$(key_file "$o")" --server-key "${keys[$new]}" "$(addr "$new")" get) ||
  fail "a member's key could not read: $out"
[[ "$out" == *sealed* ]] || fail "read over the sealed channel: $out"
if out=$("$bin" ctl --key-file "$(key_file "$o")" --server-key "${keys[$new]}" "$(addr "$new")" set by member 2>&1); then
  [[ "$out" == *operator* ]] || fail "a member's key wrote: $out"
fi
if out=$("$bin" ctl --key-file "$(key_file "$s")" --server-key "${keys[$new]}" "$(addr "$new")" get 2>&1); then
  fail "a stranger's key was served: $out"
fi
out=$("$bin" ctl --key-file "$work/keys/operator/node.key" --server-key "${keys[$o]}" "$(addr "$o")" set by-operator 1) &&
  [[ "$out" == ok ]] || fail "an operator key could not write through a follower (redirect with the leader's key): $out"
echo "client channel: own key and an operator key write, a member's key reads only, a stranger's key is refused"

# Raw bytes to the client port of node $1; prints the answer. Callers add `|| true`: the server
# may close before reading everything (that is the point of some requests), and the writer's
# SIGPIPE must not end the script under pipefail.
raw() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${ports[$1]}; cat >&3; cat <&3" 2>/dev/null | tr -d '\0' || true
}
# Wrong field types and an oversized request get errors; pipelined requests get one answer each.
reply=$(printf '\x82\xa4type\xa6append\xa4data\x05' | raw "$new" || true)
[[ "$reply" == *error* && "$reply" == *data* ]] || fail "no error for a non-map data field: $reply"
reply=$( { printf '\x81\xa4type\xdb\x00\x20\x00\x00'; head -c 2097152 /dev/zero; } | raw "$new" || true)
[[ "$reply" == *error* && "$reply" == *larger* ]] || fail "no error for an oversized request: $reply"
reply=$(printf '\x82\xa4type\xaadiagnostic\xa2id\x01\x82\xa4type\xaadiagnostic\xa2id\x02\x81\xa4type\xa3get' | raw "$new" || true)
[[ $(grep -o currentTerm <<<"$reply" | wc -l) -eq 2 ]] || fail "pipelined requests not answered twice: $reply"

# A proposal too large for one datagram is refused with a clear error, never sent.
big=$(head -c 70000 /dev/zero | tr '\0' a)
if out=$(ctl "$(addr "$new")" set big "$big" 2>&1); then fail "oversized proposal accepted"; fi
[[ "$out" == *"datagram bound"* ]] || fail "unclear error for an oversized proposal: $out"

# The status table lists every member, exactly one leader.
table=$(ctl "$(addr "$new")" status)
[[ $(grep -c Leader <<<"$table") -eq 1 && $(grep -c 127.0.0.1 <<<"$table") -eq $n ]] || fail "status table: $table"

# Leadership transfer on request.
target=$(( (new + 1) % n ))
out=$(ctl "$(addr "$new")" transfer-leader "$(addr "$target")") || fail "transfer-leader: $out"
for _ in $(seq 50); do [[ "$(leader)" == "$target" ]] && break; sleep 0.1; done
[[ "$(leader)" == "$target" ]] || fail "leadership did not move to node $target"
new=$target
echo "leadership transferred to node $new on request"

# kill -9 a follower while writing: the majority carries on, acknowledged writes survive.
victim=$(( (new + 1) % n ))
kill -9 "${pids[$victim]}"
for k in $(seq 1 5); do
  out=$(ctl "$(addr "$new")" set "f$k" y) && [[ "$out" == ok ]] || fail "write with a follower down: $out"
done
start "$victim"
echo "writes continued with a follower down"

# Add a node while writing (learner, then voter), then remove it. As an operator replaces a
# machine: add-peer with its key first, then start it with --join. It finds itself listed and
# waits for the leader instead of asking (and being refused: its key is no --admit-key), and a
# SIGTERM while it is a learner stops it without asking to leave.
j=$n
others=()
for i in $(seq 0 $((n - 1))); do others+=("$(peer_spec "$i")"); done
start_joiner() {
  "$bin" "$(addr "$j")" "${others[@]}" --join --key-file "$(key_file "$j")" --data-dir "$work/d$j" \
    --data-port "${dports[$j]}" >>"$work/log$j" 2>&1 &
  pids[$j]=$!
}
out=$(ctl "$(addr "$new")" add-peer "$(addr "$j")" --learner 2>&1) && fail "a peer was added without its key: $out"
out=$(ctl "$(addr "$new")" add-peer "$(addr "$j")" --key "${keys[$j]}" --learner) && [[ "$out" == ok ]] || fail "add learner: $out"
start_joiner
ctl "$(addr "$new")" set before-restart 1 >/dev/null || fail "write during add"
for _ in $(seq 50); do
  stale=$(printf '\x82\xa4type\xa3get\xa5stale\xc3' | raw "$j" || true)
  [[ "$stale" == *before-restart* ]] && break
  sleep 0.1
done
[[ "$stale" == *before-restart* ]] || fail "the learner added by an operator did not catch up: $stale"
grep -E "refused|not a member yet" "$work/log$j" && fail "the joiner added by an operator asked to be added"
kill -TERM "${pids[$j]}"
wait "${pids[$j]}" || fail "the learner did not exit cleanly on SIGTERM"
grep -q "stopping without leaving the group" "$work/log$j" || fail "the learner added by an operator tried to leave"
grep -q "could not leave" "$work/log$j" && fail "the learner added by an operator tried to leave: $(grep 'could not leave' "$work/log$j")"
start_joiner
ctl "$(addr "$new")" set during-add 1 >/dev/null || fail "write during add"
out=$(ctl "$(addr "$new")" add-peer "$(addr "$j")" --key "${keys[$j]}") && [[ "$out" == ok ]] || fail "promote learner: $out"
for _ in $(seq 50); do
  stale=$(printf '\x82\xa4type\xa3get\xa5stale\xc3' | raw "$j" || true)
  [[ "$stale" == *during-add* && "$stale" == *after-kill* ]] && break
  sleep 0.1
done
[[ "$stale" == *during-add* ]] || fail "added node did not catch up: $stale"
out=$(ctl "$(addr "$new")" remove-peer "$(addr "$j")") && [[ "$out" == ok ]] || fail "remove: $out"
ctl "$(addr "$new")" set after-remove 1 >/dev/null || fail "write after remove"
echo "node added (learner, voter), caught up, removed"
# A node started on a dir whose group does not include it (a copy of another member's dir) is
# refused with one line instead of sitting as a non-member; a dir started with another cluster id
# likewise. (A removed node restarted on its own dir may not know it was removed: the entry that
# removed it need not have reached it.)
kill -TERM "${pids[$j]}" 2>/dev/null || true
wait "${pids[$j]}" 2>/dev/null || true
rm -rf "$work/d$j/raft"
cp -r "$work/d0/raft" "$work/d$j/raft"
out=$(timeout 20 "$bin" "$(addr "$j")" "${others[@]}" --key-file "$(key_file "$j")" --data-dir "$work/d$j" \
  --data-port "${dports[$j]}" 2>&1) && fail "a node started on a dir of a group without it"
[[ "$out" == *"without this node"*"--join"* ]] || fail "the refusal of another group's dir does not say why: $out"
echo "started on a dir of a group without it: $(grep -o 'holds a group.*' <<<"$out" | head -1)"
out=$(timeout 20 "$bin" "$(addr "$j")" "${others[@]}" --key-file "$(key_file "$j")" --data-dir "$work/d$j" \
  --data-port "${dports[$j]}" --cluster-id another-group 2>&1) && fail "a dir of one cluster id served another"
[[ "$out" == *"belongs to cluster 'fednode'"*"not 'another-group'"* ]] || fail "the cluster-id refusal does not say why: $out"
echo "dir started with another --cluster-id: refused"

# Graceful stop: SIGTERM the leader, it hands over leadership first.
kill -TERM "${pids[$new]}"
wait "${pids[$new]}" || fail "leader did not exit cleanly"
grep -q "leadership transferred" "$work/log$new" || fail "leader did not transfer leadership on SIGTERM"
wait_leader >/dev/null
# A leader cut off from every follower (SIGSTOP) steps down within an election timeout (check
# quorum) and answers the write it holds "outcome unknown" at once, instead of never. A raw
# zatt-protocol client (ctl would spend its start-up time loading libtorch) stops the followers
# and writes in the same instant.
l=$(wait_leader)
followers=()
for i in "${!pids[@]}"; do [[ $i -ne $l ]] && kill -0 "${pids[$i]}" 2>/dev/null && followers+=("${pids[$i]}"); done
out=$(/usr/bin/python3 - "${ports[$l]}" "${followers[@]}" <<'PY'
import os, signal, socket, sys, time
def s(x): return bytes([0xa0 | len(x)]) + x
# {type: append, data: {action: change, key: cut-off, value: 1}}, plaintext: answered, then closed
req = b"\x82" + s(b"type") + s(b"append") + s(b"data") + b"\x83" + s(b"action") + s(b"change") + s(b"key") + s(b"cut-off") + s(b"value") + b"\x01"
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
stopped = [int(p) for p in sys.argv[2:]]
try:
    for p in stopped: os.kill(p, signal.SIGSTOP)
    t0 = time.monotonic()
    sock.sendall(req)
    got = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk: break
        got += chunk
    print(int((time.monotonic() - t0) * 1000), got.decode("latin-1"))
finally:
    for p in stopped: os.kill(p, signal.SIGCONT)
PY
) || fail "the raw client failed: $out"
ms=${out%% *}
[[ "$out" == *"outcome unknown"* ]] || fail "the cut-off leader answered '$out', not outcome unknown"
[[ "$out" == *unknown*reason* && "$out" != *success* ]] || fail "the cut-off leader's answer is not {type: unknown} (no success field): '$out'"
[[ $ms -lt 3000 ]] || fail "the cut-off leader took $ms ms to answer"
wait_leader >/dev/null
echo "a cut-off leader answered its pending write in $ms ms (outcome unknown)"

echo "cluster test with $n nodes passed"
