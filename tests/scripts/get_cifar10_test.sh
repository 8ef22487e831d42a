#!/usr/bin/env bash
# Tests scripts/get-cifar10.sh against a tarball served from localhost: success, MD5 mismatch,
# unreachable network, and an already complete copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/src/cifar-10-batches-bin"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  head -c 3073 /dev/urandom > "$work/src/cifar-10-batches-bin/$f.bin"
done
tar -czf "$work/cifar.tar.gz" -C "$work/src" cifar-10-batches-bin
md5=$(md5sum "$work/cifar.tar.gz" | cut -d' ' -f1)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

# 1. download, verify, unpack
CIFAR10_URL="http://127.0.0.1:$port/cifar.tar.gz" CIFAR10_MD5=$md5 "$root/scripts/get-cifar10.sh" --dest "$work/d1" >/dev/null
cmp "$work/d1/cifar-10-batches-bin/test_batch.bin" "$work/src/cifar-10-batches-bin/test_batch.bin" || fail "unpacked file differs"
ls "$work/d1"/.cifar* 2>/dev/null && fail "temporary download left behind"

# 2. already complete: no download needed (the server is not asked)
out=$(CIFAR10_URL="http://127.0.0.1:1/none" "$root/scripts/get-cifar10.sh" --dest "$work/d1")
[[ "$out" == *"already complete"* ]] || fail "complete copy not recognised: $out"

# 3. MD5 mismatch is refused and nothing is unpacked
if err=$(CIFAR10_URL="http://127.0.0.1:$port/cifar.tar.gz" CIFAR10_MD5=00000000000000000000000000000000 "$root/scripts/get-cifar10.sh" --dest "$work/d2" 2>&1); then
  fail "MD5 mismatch accepted"
fi
[[ "$err" == *"MD5 of the download"* ]] || fail "unclear MD5 error: $err"
[[ ! -e "$work/d2/cifar-10-batches-bin" ]] || fail "unpacked despite MD5 mismatch"

# 4. unreachable: one clear line naming both alternatives
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
if err=$(CIFAR10_URL="http://127.0.0.1:$port/cifar.tar.gz" "$root/scripts/get-cifar10.sh" --dest "$work/d3" 2>&1 >/dev/null); then
  fail "download from a dead server succeeded"
fi
[[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "offline error is not one line: $err"
[[ "$err" == *"unreachable"* && "$err" == *"fashion-mnist"* && "$err" == *"--dataset-dir"* ]] || fail "offline error lacks alternatives: $err"

# 5. bad flag
if "$root/scripts/get-cifar10.sh" --frob 2>/dev/null; then fail "bad flag accepted"; fi
echo "get-cifar10.sh: all cases pass"
