#!/usr/bin/env bash
# Soak: a secure 3-node group trains (Fashion-MNIST, small shards) while bench/hostile floods all
# three channels of every node: random and crafted datagrams (some sealed under a member's key:
# a compromised learner), malformed, half-sent and never-read client requests, garbage
# handshakes and frames announcing 256 MiB. A clean phase first, then the attack, side by side:
# rounds committed and mean round time, each node's RSS, what the nodes dropped and refused.
# Then, one at a time against node 0's client port (secure mode): 3,000 idle connections from 12
# loopback addresses (the operator's among them), and garbage handshakes as fast as one thread
# sends them, from another address and then from the operator's own; for each, the operator's
# sealed write (`fednode ctl ... set`, a new process each time, 4 a second) latency (p50/p99/max,
# failures), node 0's CPU and RSS, beside the same figures with no flood. The operator must never
# be refused, except by a flood from its own address, which is reported (one CPU that sends
# handshakes faster than the node checks them can close the operator's connection before its
# handshake is read: ctl tries three times). Then the restore scenario: node 1's data dir is copied
# aside, node 1 runs on, stops, gets the copy back and starts again, while every sealed datagram
# on loopback is watched for nonce reuse (bench/nonce_watch.py, root): it must catch up and no
# nonce may repeat.
# Fails if a node stops, no round commits during the attack, a node's RSS grows past the bound,
# the operator is refused during a flood, the restored node does not catch up, or a nonce repeats.
# With --insecure the group runs without keys: every datagram and frame reaches the decoders (and
# the floods and the restore scenario, which are about keys, are skipped).
#   bench/soak.sh [--clean S] [--attack S] [--flood S] [--base-port P] [--max-rss-mib M] [--insecure]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
bin=$build/fednode
clean=60 attack=180 flood=20 base=7300 max_rss=2048 insecure=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clean) clean=$2; shift 2 ;;
    --attack) attack=$2; shift 2 ;;
    --flood) flood=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --max-rss-mib) max_rss=$2; shift 2 ;;
    --insecure) insecure=1; shift ;;
    *) echo "usage: soak.sh [--clean S] [--attack S] [--flood S] [--base-port P] [--max-rss-mib M] [--insecure]" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" && -x "$build/hostile" ]] || { echo "soak.sh: build first (scripts/build.sh)" >&2; exit 1; }
fmnist=/usr/share/datasets/fashion-mnist
[[ -f $fmnist/train-images-idx3-ubyte.gz ]] || { echo "soak.sh: needs Debian's dataset-fashion-mnist" >&2; exit 1; }

work=$(mktemp -d /tmp/fednode-soak.XXXXXX)
pids=() hostile_pid=
cleanup() {
  [[ -n "$hostile_pid" ]] && kill "$hostile_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "soak.sh: logs in $work"
}
trap cleanup EXIT

addr() { echo "127.0.0.1:$((base + $1))"; }
keys=()
for i in 0 1 2 3; do keys[$i]=$("$bin" keygen --out "$work/node-$i" 2>/dev/null); done  # 3 = the hostile member
operator_key=$("$bin" keygen --out "$work/operator" 2>/dev/null)
spec() { if [[ $insecure == 1 ]]; then addr "$1"; else echo "$(addr "$1")=${keys[$1]}"; fi; }
mode=(--operator-key "$operator_key"); [[ $insecure == 1 ]] && mode=(--insecure)
start_node() {
  local i=$1 j others=()
  for j in 0 1 2; do [[ $j -ne $i ]] && others+=("$(spec "$j")"); done
  "$bin" "$(addr "$i")" "${others[@]}" "${mode[@]}" --data-dir "$work/node-$i" --dataset fashion-mnist --dataset-dir "$fmnist" \
    --rounds 100000 --local-epochs 1 --train-limit 6000 --test-limit 1000 --torch-threads 1 --deadline-s 30 \
    >>"$work/node-$i.log" 2>&1 &
  pids[$i]=$!
}
for i in 0 1 2; do start_node "$i"; done

ctl() { "$bin" ctl "$@" 2>/dev/null; }
rounds_now() {
  for i in 0 1 2; do
    if out=$(ctl "$(addr "$i")" rounds --tsv); then
      awk -F'\t' 'NF > 1 {r = $1; s = $9; e = $10} END {print (r ? r : 0), (e ? e : 0)}' <<<"$out"
      return
    fi
  done
  echo "0 0"
}
rss_mib() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
alive() { for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done; }

echo "soak.sh: 3 $([[ $insecure == 1 ]] && echo insecure || echo secure) peers on $(addr 0)-$(addr 2), work dir $work; waiting for round 1"
for _ in $(seq 120); do
  read -r r _ < <(rounds_now)
  [[ $r -ge 1 ]] && break
  sleep 1
done
[[ $r -ge 1 ]] || { echo "soak.sh: no round committed within 120 s" >&2; exit 1; }
# The hostile key becomes a member (a learner that never answers): its sealed datagrams authenticate.
key_arg=(--key "${keys[3]}"); [[ $insecure == 1 ]] && key_arg=()
for i in 0 1 2; do ctl "$(addr "$i")" add-peer "$(addr 3)" "${key_arg[@]}" --learner >/dev/null && break; done

# phase NAME SECONDS: samples rounds and RSS every 2 s; prints one line of figures.
max_seen=0
phase() {
  local name=$1 seconds=$2 start_r start_t end_r end_t peak=0
  read -r start_r start_t < <(rounds_now)
  local until=$((SECONDS + seconds))
  while [[ $SECONDS -lt $until ]]; do
    sleep 2
    alive || { echo "soak.sh: FAIL: a node stopped during the $name phase" >&2; exit 1; }
    for p in "${pids[@]}"; do
      m=$(rss_mib "$p")
      [[ $m -gt $peak ]] && peak=$m
      echo "$name $SECONDS $p $m" >>"$work/rss.txt"
    done
  done
  read -r end_r end_t < <(rounds_now)
  local n=$((end_r - start_r))
  local mean=nan
  [[ $n -gt 0 ]] && mean=$(awk -v a="$start_t" -v b="$end_t" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / 1000 / n}')
  printf '%-7s %5ss  rounds %4d (%s..%s)  mean round %6s s  peak RSS %5d MiB\n' "$name" "$seconds" "$n" "$start_r" "$end_r" "$mean" "$peak"
  [[ $peak -gt $max_seen ]] && max_seen=$peak
  phase_rounds=$n
}

phase clean "$clean"
keyed=()
for i in 0 1 2; do keyed+=(--target "$(spec "$i")"); done
member=(--key-file "$work/node-3/node.key"); [[ $insecure == 1 ]] && member=()
"$build/hostile" "${keyed[@]}" "${member[@]}" --seconds "$attack" --seed "$RANDOM" >"$work/hostile.txt" 2>&1 &
hostile_pid=$!
phase attack "$attack"
wait "$hostile_pid" || true
hostile_pid=
cat "$work/hostile.txt"
attack_rounds=$phase_rounds
phase after 30
terms=$(for i in 0 1 2; do ctl "$(addr "$i")" diagnostic | python3 -c 'import json,sys; print(json.load(sys.stdin)["persist"]["currentTerm"])' || echo "?"; done | tr '\n' ' ')
echo "terms after the attack: $terms; leader changes: $(cat "$work"/node-*/events.jsonl | grep -c '"became_leader"')"

echo "what the nodes took in, dropped and refused (ctl diagnostic):"
for i in 0 1 2; do
  ctl "$(addr "$i")" diagnostic | python3 -c '
import json, sys
stats = json.load(sys.stdin)["stats"]
for channel in ("raft_udp", "client_tcp", "data_tcp"):
    c = stats[channel]
    print(f"  node {sys.argv[1]} {channel:10}: " + ", ".join(f"{k} {c.get(k, 0)}" for k in
          ("messages_in", "dropped_in", "auth_failed", "replayed", "connections_refused", "idle_closed")))
' "$i" || echo "  node $i: no diagnostic"
done
[[ $attack_rounds -ge 1 ]] || { echo "soak.sh: FAIL: no round committed during the attack" >&2; exit 1; }
[[ $max_seen -le $max_rss ]] || { echo "soak.sh: FAIL: a node's RSS reached $max_seen MiB (bound $max_rss)" >&2; exit 1; }
if [[ $insecure == 1 ]]; then
  echo "soak.sh: PASS: every node up, rounds committed throughout, peak RSS $max_seen MiB (bound $max_rss)"
  exit 0
fi

# ---- floods of node 0's client port: can the operator get in? ----------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# flood_phase NAME MUST_SERVE [hostile --only MODE ...]: the operator's write latency, node 0's CPU
# and RSS for $flood seconds; with MUST_SERVE=1, a refused write fails the soak.
flood_phase() {
  local name=$1 must=$2 fpid= t0 c0 c1 hz
  shift 2
  hz=$(getconf CLK_TCK)
  [[ $# -gt 0 ]] && { "$build/hostile" --target "$(spec 0)" --seconds $((flood + 2)) "$@" >"$work/flood-$name.txt" 2>&1 & fpid=$!; sleep 2; }
  t0=$SECONDS
  c0=$(cpu_ticks "${pids[0]}")
  python3 - "$bin" "$work/operator/node.key" "${keys[0]}" "$(addr 0)" "$flood" <<'PY' >"$work/flood-$name.json"
import json, subprocess, sys, time
bin, key, server_key, addr, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
took, failures, until = [], 0, time.monotonic() + seconds
n = 0
while time.monotonic() < until:
    t = time.monotonic()
    n += 1
    ok = subprocess.run([bin, "ctl", "--key-file", key, "--server-key", server_key, addr, "set", "soak-probe", str(n)],
                        capture_output=True, timeout=30).returncode == 0
    if ok: took.append((time.monotonic() - t) * 1000)
    else: failures += 1
    time.sleep(0.25)
took.sort()
pick = lambda q: took[min(len(took) - 1, int(q * len(took)))] if took else float("nan")
print(json.dumps({"calls": len(took) + failures, "failures": failures, "p50": pick(0.5), "p99": pick(0.99), "max": took[-1] if took else float("nan")}))
PY
  c1=$(cpu_ticks "${pids[0]}")
  [[ -n $fpid ]] && { wait "$fpid" || true; cat "$work/flood-$name.txt"; }
  python3 - "$name" "$work/flood-$name.json" "$(( (c1 - c0) * 100 / hz ))" "$((SECONDS - t0))" "$(rss_mib "${pids[0]}")" <<'PY'
import json, sys
name, path, cpu_cs, secs, rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), max(1, int(sys.argv[4])), sys.argv[5]
r = json.load(open(path))
print(f"{name:26} operator ctl set: {r['calls']} calls, {r['failures']} failed, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
      f"max {r['max']:.1f} ms; node 0 CPU {cpu_cs / secs:.0f} %, RSS {rss} MiB")
PY
  if [[ $must == 1 && $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failures"])' "$work/flood-$name.json") != 0 ]]; then
    echo "soak.sh: FAIL: the operator was refused during the $name phase" >&2
    exit 1
  fi
  alive || { echo "soak.sh: FAIL: a node stopped during the $name phase" >&2; exit 1; }
}
echo "floods of node 0's client port ($flood s each):"
flood_phase "no flood" 1
flood_phase "idle connections" 1 --only idle-connections --connections 3000 --sources 12
flood_phase "handshakes, other address" 1 --only handshakes --from 127.0.0.2
flood_phase "handshakes, same address" 0 --only handshakes --from 127.0.0.1

# ---- the restore scenario: node 1's dir copied aside, then put back in place -------------------
echo "restore scenario: node 1's data dir copied aside, run on, put back (watching every sealed datagram for nonce reuse)"
python3 "$root/bench/nonce_watch.py" --ports "$((base))-$((base + 3))" --seconds 200 >"$work/nonces.json" &
watch_pid=$!
sleep 1
stop_node() { kill -TERM "${pids[$1]}"; wait "${pids[$1]}" 2>/dev/null || true; }
commit_of() { ctl "$(addr "$1")" diagnostic | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"]["commitIndex"])' 2>/dev/null || echo 0; }
stop_node 1
rm -rf "$work/node-1.backup" && cp -a "$work/node-1" "$work/node-1.backup"
start_node 1
sleep 20
stop_node 1
rm -rf "$work/node-1" && cp -a "$work/node-1.backup" "$work/node-1"
start_node 1
t0=$SECONDS caught=0
while [[ $((SECONDS - t0)) -lt 120 ]]; do
  target=$(commit_of 0)
  [[ $(commit_of 1) -ge $target && $target -gt 0 ]] && { caught=1; break; }
  sleep 0.5
done
echo "restored node 1 caught up: $([[ $caught == 1 ]] && echo "yes, in $((SECONDS - t0)) s" || echo no)"
grep -h "lacks log entries\|caught up after the rollback" "$work/node-1.log" | tail -2 | sed 's/^/  node 1: /'
sleep 10
kill -TERM "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null || true
echo "nonces on the wire during the scenario: $(cat "$work/nonces.json" 2>/dev/null || echo '(watcher gave nothing: not root?)')"
reused=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reused"])' "$work/nonces.json" 2>/dev/null || echo "?")
[[ $caught == 1 ]] || { echo "soak.sh: FAIL: the restored node did not catch up in 120 s" >&2; exit 1; }
[[ $reused == 0 ]] || { echo "soak.sh: FAIL: nonces reused: $reused" >&2; exit 1; }
echo "soak.sh: PASS: every node up, rounds committed throughout, peak RSS $max_seen MiB (bound $max_rss), the operator served through every flood, the restored node caught up, no nonce reused"
