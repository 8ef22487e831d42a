#!/usr/bin/env bash
# fednode ctl answered by something that is not fednode (an HTTP server that answers at once):
# every command fails with one line saying so, instead of printing a stray number and exit 0.
#   ctl_not_fednode_test.sh FEDNODE_BINARY
set -euo pipefail
bin=$1
port_file=$(mktemp)
/usr/bin/python3 - "$port_file" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
try:
    while True:
        c, _ = s.accept()
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        c.close()
except OSError:
    pass
PY
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$port_file"' EXIT
for _ in $(seq 1 50); do [[ -s $port_file ]] && break; sleep 0.1; done
port=$(cat "$port_file")
for cmd in get status diagnostic; do
  if out=$("$bin" ctl "127.0.0.1:$port" $cmd 2>&1); then
    echo "FAIL: ctl $cmd against an HTTP server succeeded: $out" >&2
    exit 1
  fi
  [[ "$out" == *"is a fednode node listening there?"* && $(wc -l <<<"$out") -eq 1 ]] ||
    { echo "FAIL: ctl $cmd said '$out'" >&2; exit 1; }
  echo "ctl $cmd: $out"
done
# A watch that never got an answer (from the HTTP server, or from a port nobody listens on) ends
# its --count with one line and exit 1, not 0.
free_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for target in "127.0.0.1:$port" "127.0.0.1:$free_port"; do
  if out=$("$bin" ctl "$target" watch --count 2 --interval 0.1 2>&1 >/dev/null); then
    echo "FAIL: ctl watch against $target that never answered exited 0" >&2
    exit 1
  fi
  [[ "$out" == *"watch: no answer from $target in 2 tries"* && $(wc -l <<<"$out") -eq 1 ]] ||
    { echo "FAIL: ctl watch against $target said '$out'" >&2; exit 1; }
  echo "ctl watch: $out"
done
echo "PASS: ctl refuses an answer that is not fednode's, and a watch that never got one fails"
