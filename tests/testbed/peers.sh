# shellcheck shell=bash
# fednode peers on the namespace testbed (source lib.sh and ../cluster/lib.sh first): host K runs
# `fednode 198.18.0.K:5000 PEERS...` with its data in $TBP_WORK/dK and its output in
# $TBP_WORK/logK. Set before use:
#   TBP_BIN        the fednode binary
#   TBP_WORK       a directory for data dirs and logs
#   TBP_N          how many hosts run a peer (hosts 1..TBP_N)
#   TBP_FLAGS      array: flags every peer gets (rounds, data set, ...)
#   TBP_HOST_FLAGS associative array: extra flags of host K (one string, split on spaces)
#   TBP_SKEW       associative array: host K's wall-clock offset for libfaketime ("+300s", "-300s")
#   TBP_PORT       the peer port on every host (default 5000)

TBP_PORT=${TBP_PORT:-5000}
TBP_FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
declare -A TBP_HOST_FLAGS=() TBP_SKEW=()

tbp_addr() { echo "$(tb_ip "$1"):$TBP_PORT"; }
tbp_host_of() { local a=${1%:*}; echo "${a##*.}"; }  # 198.18.0.K:PORT -> K
tbp_events() { echo "$TBP_WORK/d$1/events.jsonl"; }

# Every host's node key, made once under $TBP_WORK/keys (outside the data dirs): TBP_KEYS[K].
declare -A TBP_KEYS=()
tbp_keys() {
  local k
  for k in $(seq 1 "$TBP_N"); do
    [[ -n "${TBP_KEYS[$k]:-}" ]] && continue
    TBP_KEYS[$k]=$("$TBP_BIN" keygen --out "$TBP_WORK/keys/$k" 2>/dev/null) || { echo "testbed: keygen failed" >&2; return 1; }
  done
}

tbp_start() {
  local k=$1 j peers=() pre=() own=()
  tbp_keys || return 1
  for j in $(seq 1 "$TBP_N"); do [[ $j -ne $k ]] && peers+=("$(tbp_addr "$j")=${TBP_KEYS[$j]}"); done
  if [[ -n "${TBP_SKEW[$k]:-}" ]]; then
    [[ -f $TBP_FAKETIME_LIB ]] || { echo "testbed: libfaketime is missing (apt-get install faketime)" >&2; return 1; }
    # Only the wall clock moves: fednode measures every duration on the monotonic clock. The
    # shim built next to the binary keeps libfaketime off the monotonic timers (real_timerfd.cpp).
    local shim
    shim=$(dirname "$TBP_BIN")/libfednode-real-timerfd.so
    [[ -f $shim ]] || { echo "testbed: $shim is missing (built with fednode: scripts/build.sh)" >&2; return 1; }
    pre=(env FAKETIME="${TBP_SKEW[$k]}" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$shim $TBP_FAKETIME_LIB")
  fi
  # shellcheck disable=SC2206
  [[ -n "${TBP_HOST_FLAGS[$k]:-}" ]] && own=(${TBP_HOST_FLAGS[$k]})
  tb_spawn "$k" "$TBP_WORK/log$k" "${pre[@]}" "$TBP_BIN" "$(tbp_addr "$k")" "${peers[@]}" \
    --key-file "$TBP_WORK/keys/$k/node.key" --data-dir "$TBP_WORK/d$k" \
    "${TBP_FLAGS[@]}" "${own[@]}"
}

tbp_start_all() { local k; for k in $(seq 1 "$TBP_N"); do tbp_start "$k"; done; }
# ctl on host K with K's own node key (an operator of its own node; sealed: K's address is not loopback).
tbp_ctl() { local k=$1; shift; tb_exec "$k" "$TBP_BIN" ctl --key-file "$TBP_WORK/keys/$k/node.key" "$(tbp_addr "$k")" "$@"; }
tbp_committed() { events_py rounds "$(tbp_events "$1")" | wc -l; }
tbp_max_committed() { local k best=0 c; for k in $(seq 1 "$TBP_N"); do c=$(tbp_committed "$k"); [[ $c -gt $best ]] && best=$c; done; echo "$best"; }

# Waits until host K (or "any" host) has COUNT committed rounds; fails after SECONDS.
tbp_wait_rounds() {
  local who=$1 count=$2 until=$((SECONDS + $3)) k
  while [[ $SECONDS -lt $until ]]; do
    if [[ $who == any ]]; then
      [[ $(tbp_max_committed) -ge $count ]] && return 0
    else
      [[ $(tbp_committed "$who") -ge $count ]] && return 0
      tb_alive "$who" || { echo "host $who stopped" >&2; return 1; }
    fi
    sleep 0.2
  done
  echo "host $who did not reach $count committed rounds in $3 s" >&2
  return 1
}

# The host named as aggregator by the latest round_start host K applied.
tbp_current_aggregator() {
  local a
  a=$(events_py field round_start aggregator "$(tbp_events "$1")" | tail -1)
  [[ -n "$a" ]] && tbp_host_of "$a"
}

# Sets data=(...) for scripts: CIFAR-10 from $FEDNODE_CIFAR10_DIR, data/ (scripts/get-cifar10.sh)
# or ../shared's subset, else Debian's Fashion-MNIST. WANT (cifar10|fashion-mnist|"") forces one;
# fails when cifar10 is wanted and absent.
tbp_pick_dataset() {
  local want=${1:-} dir
  for dir in "${FEDNODE_CIFAR10_DIR:-}" "$root/data/cifar-10-batches-bin" "$root/../shared/datasets/cifar10-subset/cifar-10-batches-bin"; do
    if [[ "$want" != fashion-mnist && -n "$dir" && -f "$dir/data_batch_1.bin" ]]; then
      data=(--dataset cifar10 --dataset-dir "$dir")
      return 0
    fi
  done
  [[ "$want" == cifar10 ]] && return 1
  data=(--dataset fashion-mnist --dataset-dir /usr/share/datasets/fashion-mnist)
}

# The start of every testbed experiment (bench/testbed-*.sh): checks it can run, builds, picks the
# data set (WANT as for tbp_pick_dataset) and makes runs/NAME-<time>/, named in $out; TBP_BIN set.
tbp_prepare_experiment() {
  local name=$1 want=${2:-} why
  why=$(tb_can_run) || { echo "$name: $why" >&2; exit 1; }
  "$root/scripts/build.sh"
  tbp_pick_dataset "$want" || { echo "$name: CIFAR-10 not found (data/, \$FEDNODE_CIFAR10_DIR or ../shared)" >&2; exit 1; }
  out="$root/runs/$name-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$out"
  TBP_BIN=${FEDNODE_BUILD_DIR:-$root/build}/fednode
}

# Waits until some host trains ROUND (a "training" event); prints that host, or fails after SECONDS.
tbp_wait_training() {
  local round=$1 until=$((SECONDS + $2)) k
  while [[ $SECONDS -lt $until ]]; do
    for k in $(seq 1 "$TBP_N"); do
      events_py field training round "$(tbp_events "$k")" | grep -qx "$round" && { echo "$k"; return 0; }
    done
    sleep 0.05
  done
  return 1
}

# Cuts the hosts "A.." off from "B..", then waits a second for a commit already on its way when
# the cut fell to land; prints the committed rounds of A's first host, frozen from then on.
tbp_cut() {
  tb_partition "$1" "$2"
  sleep 1
  tbp_committed "$(awk '{print $1}' <<<"$1")"
}
