#!/usr/bin/env bash
# The live page in a real browser: 4 keyed peers train (the CIFAR-10 subset or Fashion-MNIST), each
# serving its page on a metrics port (loopback); headless Chromium opens a non-leader's page, which
# must show round 2 committed with every member, a plot with points, the rounds table and events;
# a screenshot is saved (live-page.png, beside the test's work dir and in the current directory);
# killing the aggregator must show on the page within 2 s. Also: /api/status is versioned JSON, a
# foreign Host header is refused (DNS rebinding), the page weighs under 200 KB and loads nothing
# from elsewhere. Skips (77) without chromium and python3-websocket (scripts/setup-deps.sh).
#   live_page_test.sh FEDNODE_BINARY
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
command -v chromium >/dev/null || { echo "SKIP: chromium not installed (scripts/setup-deps.sh installs it)"; exit 77; }
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
  { echo "SKIP: python3-websocket not installed (scripts/setup-deps.sh installs it)"; exit 77; }
fl_pick_dataset
start_workspace
extra_logs=("$work/chromium.log")

n=4
mapfile -t all_ports < <(free_ports $((3 * n + 1)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n:n}")
mports=("${all_ports[@]:2*n:n}")
cdp_port=${all_ports[3*n]}
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
for i in $(seq 0 $((n - 1))); do
  start_keyed_peer "$i" --metrics-port "${mports[$i]}" --rounds 6 --deadline-s 60 "${data[@]}" "${train_limit[@]}"
done

url() { echo "http://127.0.0.1:${mports[$1]}$2"; }
for _ in $(seq 100); do curl -sf "$(url 0 /api/status)" >/dev/null && break; sleep 0.1; done
status=$(curl -sf "$(url 0 /api/status)") || fail "no /api/status on node 0"
/usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["api"] == 1, s["api"]
for k in ("node", "role", "term", "leader", "members", "rounds", "events", "traffic"):
    assert k in s, k
assert len(s["members"]) == 4, s["members"]
assert all("secret" not in json.dumps(m) for m in s["members"])' "$status" || fail "/api/status is not version 1 with every field: $status"
headers=$(curl -sf -D - -o "$work/page.html" "$(url 0 /)") || fail "no page at /"
size=$(stat -c %s "$work/page.html")
[[ $size -lt 204800 ]] || fail "the page weighs $size bytes"
grep -qiE "(src|href)=\"?(https?:)?//" "$work/page.html" && fail "the page loads something from elsewhere"
grep -qi "content-security-policy: default-src 'none'" <<<"$headers" || fail "no Content-Security-Policy: $headers"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' "$(url 0 /api/status)")
[[ $code == 403 ]] || fail "a foreign Host header got $code, not 403"
echo "/api/status: version 1, 4 members; page $size bytes, self-contained; foreign Host refused"

start_chromium --remote-debugging-port="$cdp_port" --window-size=1280,1000 about:blank
trap 'stop_chromium; cleanup_workspace' EXIT
nodes=()
for i in $(seq 0 $((n - 1))); do nodes+=("$(addr "$i"),$(url "$i" /),${pids[$i]}"); done
/usr/bin/python3 "$root/tests/cluster/live_page.py" "$cdp_port" "$work/live-page.png" "${nodes[@]}" || fail "the page in Chromium"
cp "$work/live-page.png" ./live-page.png 2>/dev/null || true
# A poll asks only for the rounds after those it has; a malformed query means everything.
for i in $(seq 0 $((n - 1))); do kill -0 "${pids[$i]}" 2>/dev/null && { survivor=$i; break; }; done
/usr/bin/python3 -c '
import json, sys, urllib.request
base = sys.argv[1]
get = lambda q: json.load(urllib.request.urlopen(base + q, timeout=5))
whole, tail, bogus = get(""), get("?rounds_after=1"), get("?rounds_after=1x")
assert len(whole["rounds"]) >= 2 and whole["rounds_after"] == 0, whole["rounds"]
assert tail["rounds_after"] == 1 and [r["round"] for r in tail["rounds"]] == [r["round"] for r in whole["rounds"] if r["round"] > 1]
assert all(e["round"] > 1 for e in tail["commit_events"]) and len(tail["commit_events"]) < len(whole["commit_events"])
assert bogus["rounds_after"] == 0 and len(bogus["rounds"]) >= len(whole["rounds"])
print("/api/status?rounds_after=1: %d of %d rounds" % (len(tail["rounds"]), len(whole["rounds"])))' "$(url "$survivor" /api/status)" ||
  fail "/api/status?rounds_after does not return only the later rounds"
echo "PASS: the live page shows the run and the failover"
