#!/usr/bin/env bash
# The testbed's delay, jitter and loss do what they say, measured with ping between hosts:
#   host 1: 40 ms;  host 2: 20 ms +- 10 ms;  host 3: 10 % of what it receives lost.
# RTT 1<->2 is 40 + 20 (+- 10) ms, RTT 1<->3 is 40 ms, and a ping from 1 to 3 loses about 10 %
# (the requests 3 receives). A loss counts IP fragments one by one: a 3,000-byte ping (3
# fragments) is lost about 1 - 0.9^3 = 27 % of the time. Every namespace, rule and process is removed at the end, on failure too.
#   delay_loss_test.sh DELAY_QUEUE_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TB_DELAY_QUEUE=$1
# shellcheck source=lib.sh
source "$here/lib.sh"
why=$(tb_can_run) || { echo "SKIP: $why"; exit 77; }
command -v ping >/dev/null || { echo "FAIL: the delay test needs ping (apt-get install iputils-ping: scripts/setup-deps.sh)"; exit 1; }
[[ -x "$TB_DELAY_QUEUE" ]] || { echo "FAIL: no fednode-delay-queue at $TB_DELAY_QUEUE"; exit 1; }
export TB_DELAY_LOG=$(mktemp)
fail() { echo "FAIL: $*"; cat "$TB_DELAY_LOG"; exit 1; }

tb_init 3
tb_delay 1 40
tb_delay 2 20:10
tb_loss 3 10

# "rtt min/avg/max/mdev = a/b/c/d ms" and "N packets transmitted, M received"
ping_stats() {  # FROM TO COUNT INTERVAL [PING FLAGS] -> "min avg max mdev loss%"
  local out
  out=$(tb_exec "$1" ping -n -q -c "$3" -i "$4" -W 2 "${@:5}" "$(tb_ip "$2")" 2>&1 || true)
  awk '/packets transmitted/ { sent = $1; got = $4 }
       /^rtt|^round-trip/ { split($4, r, "/") }
       END { printf "%s %s %s %s %.2f\n", r[1], r[2], r[3], r[4], sent ? 100 * (sent - got) / sent : 100 }' <<<"$out"
}
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

read -r min avg max mdev loss < <(ping_stats 1 2 60 0.02)
echo "1<->2: min $min avg $avg max $max mdev $mdev ms, loss $loss %  (set: 40 + 20 +- 10 ms)"
within "$min" 49.5 62 || fail "RTT 1<->2 min $min ms: the delays (40 + 20 - 10) are not applied"
within "$avg" 55 72 || fail "RTT 1<->2 average $avg ms, not 60 ms give or take"
within "$max" 60 90 || fail "RTT 1<->2 max $max ms: the jitter (+10) is not applied"
within "$mdev" 2 9 || fail "RTT 1<->2 deviation $mdev ms: the jitter does not show"
within "$loss" 0 0 || fail "ping 1<->2 lost $loss % with no loss set"

read -r min avg max mdev loss < <(ping_stats 1 3 400 0.005)
echo "1<->3: min $min avg $avg max $max mdev $mdev ms, loss $loss %  (set: 40 ms; 10 % of what 3 receives lost)"
within "$min" 39.5 50 || fail "RTT 1<->3 min $min ms, not 40"
within "$avg" 39.5 52 || fail "RTT 1<->3 average $avg ms, not 40"
# 400 replies at 10 %: 40 lost on average (binomial sd 6); 4.5 sd either side.
within "$loss" 3.25 16.75 || fail "ping 1->3 lost $loss %, not about 10 %"
# 300 pings of 3,000 bytes, 3 fragments each: 27.1 % lost on average (sd 2.6 points).
read -r min avg max mdev loss < <(ping_stats 1 3 300 0.005 -s 3000)
echo "1<->3, 3,000-byte pings: loss $loss %  (set: 10 % a packet; 27 % for 3 fragments)"
within "$loss" 15.4 38.8 || fail "3,000-byte pings 1->3 lost $loss %, not about 27 %: fragments are not lost one by one"

tb_delay 1 off
tb_loss 3 off
read -r min avg max mdev loss < <(ping_stats 1 3 50 0.01)
echo "1<->3 with both off: min $min avg $avg ms, loss $loss %"
within "$avg" 0 5 || fail "RTT 1<->3 is $avg ms after the delay was removed"
within "$loss" 0 0 || fail "ping 1->3 still loses $loss % after the loss was removed"
rm -f "$TB_DELAY_LOG"
echo "ok: delay, jitter and loss measured as set"
