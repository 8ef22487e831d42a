#!/usr/bin/env bash
# Soak: a secure 3-node group trains (Fashion-MNIST, small shards) while bench/hostile floods all
# three channels of every node: random and crafted datagrams (some sealed under a member's key:
# a compromised learner), malformed, half-sent and never-read client requests, garbage
# handshakes and frames announcing 256 MiB. A clean phase first, then the attack, side by side:
# rounds committed and mean round time, each node's RSS, what the nodes dropped and refused.
# Fails if a node stops, no round commits during the attack, or a node's RSS grows past the bound.
# With --insecure the group runs without keys: every datagram and frame reaches the decoders.
#   bench/soak.sh [--clean S] [--attack S] [--base-port P] [--max-rss-mib M] [--insecure]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FEDNODE_BUILD_DIR:-$root/build}
bin=$build/fednode
clean=60 attack=180 base=7300 max_rss=2048 insecure=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clean) clean=$2; shift 2 ;;
    --attack) attack=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --max-rss-mib) max_rss=$2; shift 2 ;;
    --insecure) insecure=1; shift ;;
    *) echo "usage: soak.sh [--clean S] [--attack S] [--base-port P] [--max-rss-mib M] [--insecure]" >&2; exit 2 ;;
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
spec() { if [[ $insecure == 1 ]]; then addr "$1"; else echo "$(addr "$1")=${keys[$1]}"; fi; }
mode=(); [[ $insecure == 1 ]] && mode=(--insecure)
for i in 0 1 2; do
  others=()
  for j in 0 1 2; do [[ $j -ne $i ]] && others+=("$(spec "$j")"); done
  "$bin" "$(addr "$i")" "${others[@]}" "${mode[@]}" --data-dir "$work/node-$i" --dataset fashion-mnist --dataset-dir "$fmnist" \
    --rounds 100000 --local-epochs 1 --train-limit 6000 --test-limit 1000 --torch-threads 1 --deadline-s 30 \
    >"$work/node-$i.log" 2>&1 &
  pids+=($!)
done

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
echo "soak.sh: PASS: every node up, rounds committed throughout, peak RSS $max_seen MiB (bound $max_rss)"
