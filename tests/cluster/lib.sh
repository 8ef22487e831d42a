# shellcheck shell=bash
# Helpers the multi-process test scripts share (sourced; expects $root, the repository).

# N distinct free ports, one a line: all held at once while chosen, so none repeats. Peers get
# their data port from here too (the default, port + 1000, may be another peer's port).
free_ports() {
  /usr/bin/python3 -c '
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
print("\n".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# Sets data=(...) and train_limit=(...) for a federated run: the real CIFAR-10 subset
# ($FEDNODE_CIFAR10_DIR or ../shared/datasets) when present, else Debian's Fashion-MNIST, else
# exits 77 (skip). FEDNODE_TEST_DATASET=cifar10|fashion-mnist forces one (CI runs a scenario on
# each, so both paths stay tested wherever ../shared is).
fl_pick_dataset() {
  local want=${FEDNODE_TEST_DATASET:-auto}
  local cifar=${FEDNODE_CIFAR10_DIR:-$root/../shared/datasets/cifar10-subset/cifar-10-batches-bin}
  local fmnist=/usr/share/datasets/fashion-mnist
  train_limit=()
  case "$want" in
    auto | cifar10 | fashion-mnist) ;;
    *) echo "FEDNODE_TEST_DATASET='$want' is not cifar10 or fashion-mnist" >&2; exit 2 ;;
  esac
  if [[ "$want" != fashion-mnist && -f "$cifar/data_batch_1.bin" ]]; then
    data=(--dataset cifar10 --dataset-dir "$cifar")
  elif [[ "$want" == cifar10 ]]; then
    echo "SKIP: FEDNODE_TEST_DATASET=cifar10 but no CIFAR-10 subset at $cifar (set FEDNODE_CIFAR10_DIR)"
    exit 77
  elif [[ -f $fmnist/train-images-idx3-ubyte.gz ]]; then
    [[ "$want" == fashion-mnist ]] || echo "CIFAR-10 subset not found at $cifar; using Debian's Fashion-MNIST"
    data=(--dataset fashion-mnist --dataset-dir "$fmnist" --test-limit 2000)
    train_limit=(--train-limit 6000)
  else
    echo "SKIP: no CIFAR-10 subset at $cifar (set FEDNODE_CIFAR10_DIR) and no dataset-fashion-mnist"
    exit 77
  fi
}

# Node keys for nodes 0..N-1 (secure mode, the default): keys[I] is node I's public key, its key
# file $work/keys/I/node.key, outside the data dirs (which scenarios wipe). Needs $bin, $work.
make_keys() {
  keys=()
  for i in $(seq 0 $(($1 - 1))); do
    keys[$i]=$("$bin" keygen --out "$work/keys/$i" 2>/dev/null) || { echo "fednode keygen failed" >&2; exit 1; }
  done
}
# use_keys DIR N: node I's key is DIR/I.key, its public key line I+1 of DIR/public-keys.txt
# (fixed keys, for a run that must be reproducible: node ids seed each party's shuffle).
use_keys() {
  mapfile -t keys <"$1/public-keys.txt"
  for i in $(seq 0 $(($2 - 1))); do
    mkdir -p -m 0700 "$work/keys/$i"
    install -m 0600 "$1/$i.key" "$work/keys/$i/node.key"
  done
}
# Node I as a peer names it on the command line: HOST:PORT=KEY. Needs addr().
peer_spec() { echo "$(addr "$1")=${keys[$1]}"; }
key_file() { echo "$work/keys/$1/node.key"; }

# A plaintext data-plane fetch of blob ID from 127.0.0.1:PORT, as a stranger would send it:
# prints "served" if the blob came back, "refused" otherwise.
plaintext_fetch() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
port, blob = int(sys.argv[1]), sys.argv[2].encode()
def s(x): return bytes([0xa0 | len(x)]) + x
body = b"\x83" + s(b"op") + s(b"fetch") + s(b"id") + b"\xd9\x40" + blob + s(b"pad") + s(b"x" * 20)
sock = socket.create_connection(("127.0.0.1", port), timeout=3)
sock.sendall(len(body).to_bytes(4, "big") + body)
got = b""
try:
    while True:
        chunk = sock.recv(65536)
        if not chunk: break
        got += chunk
        if b"\xa2ok" in got and len(got) > 200: break
except OSError:
    pass
print("served" if b"\xa2ok\xc3" in got else "refused")
PY
}

events_py() { /usr/bin/python3 "$root/tests/cluster/events.py" "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds; after
# SECONDS, fail "DESCRIPTION, after SECONDS s".
wait_for() {
  local seconds=$1 limit=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [[ $SECONDS -lt $limit ]] || fail "$what, after $seconds s"
    sleep 0.2
  done
}

# A scratch directory ($work) for the peers a test starts (their pids in pids=()): on exit every
# peer is killed (-9) and the directory removed, unless FEDNODE_KEEP_WORK is set.
start_workspace() {
  work=$(mktemp -d)
  pids=()
  extra_logs=()
  trap cleanup_workspace EXIT
}
cleanup_workspace() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [[ -n "${FEDNODE_KEEP_WORK:-}" ]] || rm -rf "$work"
}
# fail MESSAGE: says it, then each log's last warnings and last lines ($work/log* and the files
# in extra_logs), copies $work to $FEDNODE_KEEP_FAILED if that is set, and exits 1.
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/log* "${extra_logs[@]}"; do
    [[ -f $f ]] || continue
    echo "== $f"
    { grep -v " info " "$f" || true; } | tail -8  # no warnings at all must not end the report
    tail -4 "$f"
  done >&2
  if [[ -n "${FEDNODE_KEEP_FAILED:-}" ]]; then cp -r "$work" "$FEDNODE_KEEP_FAILED"; echo "kept in $FEDNODE_KEEP_FAILED" >&2; fi
  exit 1
}

# Headless Chromium (browser tests and benches), its profile in $work/chrome, output in
# $work/chromium.log: start_chromium ARGS... (a URL, --remote-debugging-port=P, ...). Its own
# children outlive a SIGKILL of it for a moment and keep writing to the profile: stop_chromium
# ends them all (also call it before the work dir goes).
start_chromium() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/chrome" "$@" >"$work/chromium.log" 2>&1 &
}
stop_chromium() {
  pkill -f -- "--user-data-dir=$work/chrome" 2>/dev/null || true
  sleep 0.3
  pkill -9 -f -- "--user-data-dir=$work/chrome" 2>/dev/null || true
}

# Starts peer I of n keyed peers (addr, dports and keys from the caller's setup) with FLAGS...: the
# other n-1 as peers with their keys, its own data dir $work/dI, its pid in pids[I], its log in
# $work/logI.
start_keyed_peer() {
  local i=$1 j others=()
  shift
  for j in $(seq 0 $((n - 1))); do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  "$bin" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --data-dir "$work/d$i" --data-port "${dports[$i]}" \
    "$@" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
