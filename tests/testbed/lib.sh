# shellcheck shell=bash
# The namespace testbed: N "machines" on one kernel, each a network namespace with its own
# interface eth0 and address 198.18.0.K/24 (RFC 2544's benchmarking range), joined by a bridge
# that lives in a namespace of its own. Nothing is created in the caller's namespace, no host has
# a route beyond the bridge, so no packet leaves the testbed. Sourced by scripts/testbed.sh,
# bench/testbed-*.sh and tests/testbed/*.sh.
#
#   tb_init N               create hosts 1..N (needs root; tb_can_run says why not)
#   tb_ns K                 the namespace name of host K;  tb_ip K: its address
#   tb_exec K CMD...        run CMD on host K
#   tb_spawn K LOG CMD...   start CMD in the background on host K; TB_PID[K] holds its pid
#   tb_kill K [SIGNAL]      signal host K's process (default KILL) and reap it
#   tb_alive K              whether host K's process runs
#   tb_rate K MBIT|off      limit host K's link both ways with tc tbf (netem is not available)
#   tb_delay K MS[:JITTER]|off  hold what host K sends for MS ms (+- JITTER), in order
#                           (fednode-delay-queue behind an NFQUEUE rule: netem is not available;
#                           set TB_DELAY_QUEUE to the binary). A pair's RTT is the sum of both delays
#   tb_loss K PCT|off       drop PCT % of the packets host K receives, each IP fragment on its own
#                           (iptables' statistic match in raw PREROUTING, before reassembly)
#   tb_drop_fragments K on|off  host K drops every IP fragment after the first it receives, as
#                           many internet paths do (raw PREROUTING, before any reassembly)
#   tb_partition "A.." "B.."  drop every packet between the two groups (iptables on each host)
#   tb_heal                 remove every partition rule
#   tb_cleanup              kill every process, delete every namespace (runs on EXIT/INT/TERM)
# Every name starts with TB_PREFIX (default fnt<pid>), so concurrent testbeds do not meet.

TB_PREFIX=${TB_PREFIX:-fnt$$}
TB_N=0
TB_PID=()
TB_DELAY_PID=()
TB_NET=198.18.0

tb_ns() { echo "${TB_PREFIX}h$1"; }
tb_switch() { echo "${TB_PREFIX}sw"; }
tb_ip() { echo "$TB_NET.$1"; }
tb_exec() { local k=$1; shift; ip netns exec "$(tb_ns "$k")" "$@"; }

# Prints why the testbed cannot run here, and fails; prints nothing when it can.
tb_can_run() {
  if [[ $(id -u) -ne 0 ]]; then echo "the testbed needs root (network namespaces)"; return 1; fi
  local tool
  for tool in ip tc iptables; do
    command -v "$tool" >/dev/null || { echo "the testbed needs '$tool' (apt-get install iproute2 iptables)"; return 1; }
  done
  local probe="${TB_PREFIX}probe"
  if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create network namespaces here (ip netns add failed)"; return 1; fi
  ip netns del "$probe"
}

tb_init() {
  local n=$1 k
  [[ "$n" =~ ^[1-9][0-9]*$ && "$n" -le 250 ]] || { echo "tb_init: host count '$n' is not in 1..250" >&2; return 2; }
  trap tb_cleanup EXIT
  trap 'tb_cleanup; exit 130' INT
  trap 'tb_cleanup; exit 143' TERM
  TB_N=$n
  local sw
  sw=$(tb_switch)
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  ip -n "$sw" link set lo up
  for k in $(seq 1 "$n"); do
    local ns
    ns=$(tb_ns "$k")
    ip netns add "$ns"
    # Created inside the host's namespace with its peer sent straight to the switch's.
    ip -n "$ns" link add eth0 type veth peer name "h$k" netns "$sw"
    ip -n "$sw" link set "h$k" master br0 up
    ip -n "$ns" addr add "$(tb_ip "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

tb_spawn() {
  local k=$1 log=$2
  shift 2
  ip netns exec "$(tb_ns "$k")" "$@" >>"$log" 2>&1 &
  TB_PID[$k]=$!
}

tb_alive() { [[ -n "${TB_PID[$1]:-}" ]] && kill -0 "${TB_PID[$1]}" 2>/dev/null; }

tb_kill() {
  local k=$1 sig=${2:-KILL}
  [[ -n "${TB_PID[$k]:-}" ]] || return 0
  kill -s "$sig" "${TB_PID[$k]}" 2>/dev/null || true
  wait "${TB_PID[$k]}" 2>/dev/null || true
  TB_PID[$k]=""
}

# tbf on both ends of host K's link: eth0 shapes what K sends, the switch port what it receives.
tb_rate() {
  local k=$1 rate=$2
  [[ "$rate" == off || "$rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "tb_rate: rate '$rate' is not a number of Mbit/s" >&2; return 2; }
  tb_shape "$(tb_ns "$k")" eth0 "$rate" && tb_shape "$(tb_switch)" "h$k" "$rate"
}

tb_shape() {  # NAMESPACE DEVICE MBIT|off
  tc -n "$1" qdisc del dev "$2" root 2>/dev/null || true
  [[ "$3" == off ]] && return 0
  # A bucket of a few full-size frames; at most ~200 ms of queue, beyond which packets drop.
  tc -n "$1" qdisc add dev "$2" root tbf rate "${3}mbit" burst 32kb latency 200ms
}

# Delay sits in the mangle table's POSTROUTING chain of the sender, loss in the raw table's
# PREROUTING chain of the receiver, on eth0 only, so that partitions (filter table, flushed by
# tb_heal) and rates (tc) stay independent of them. Loss is taken on arrival because IP fragments
# a datagram after POSTROUTING: dropped there, a 60 KiB datagram would count as one packet, not
# as the 42 fragments a lossy path loses one by one.
tb_delay() {  # K MS[:JITTER]|off
  local k=$1 spec=$2
  if [[ -n "${TB_DELAY_PID[$k]:-}" ]]; then
    tb_exec "$k" iptables -t mangle -D POSTROUTING -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass 2>/dev/null || true
    kill "${TB_DELAY_PID[$k]}" 2>/dev/null || true
    wait "${TB_DELAY_PID[$k]}" 2>/dev/null || true
    TB_DELAY_PID[$k]=""
  fi
  [[ "$spec" == off ]] && return 0
  [[ "$spec" =~ ^([0-9]+)(:([0-9]+))?$ ]] || { echo "tb_delay: '$spec' is not MS or MS:JITTER (milliseconds)" >&2; return 2; }
  local ms=${BASH_REMATCH[1]} jitter=${BASH_REMATCH[3]:-0}
  [[ $jitter -le $ms ]] || { echo "tb_delay: jitter $jitter ms is more than the delay $ms ms" >&2; return 2; }
  [[ -x "${TB_DELAY_QUEUE:-}" ]] || { echo "tb_delay: TB_DELAY_QUEUE ('${TB_DELAY_QUEUE:-}') is not the fednode-delay-queue binary" >&2; return 2; }
  ip netns exec "$(tb_ns "$k")" "$TB_DELAY_QUEUE" --queue 0 --delay-ms "$ms" --jitter-ms "$jitter" --seed "$k" \
    2>>"${TB_DELAY_LOG:-/dev/null}" &
  TB_DELAY_PID[$k]=$!
  sleep 0.1  # bound to its queue before the rule sends packets there (--queue-bypass covers the gap)
  tb_exec "$k" iptables -t mangle -A POSTROUTING -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass
}

tb_loss() {  # K PCT|off
  local k=$1 pct=$2
  local rule
  while read -r rule; do
    [[ "$rule" == *"-m statistic"* ]] && eval "tb_exec $k iptables -t raw ${rule/#-A /-D }"
  done < <(tb_exec "$k" iptables -t raw -S PREROUTING)
  [[ "$pct" == off ]] && return 0
  [[ "$pct" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v p="$pct" 'BEGIN { exit !(p > 0 && p < 100) }' ||
    { echo "tb_loss: '$pct' is not a percentage between 0 and 100" >&2; return 2; }
  tb_exec "$k" iptables -t raw -I PREROUTING 1 -i eth0 -m statistic --mode random \
    --probability "$(awk -v p="$pct" 'BEGIN { printf "%.6f", p / 100 }')" -j DROP
}

tb_drop_fragments() {  # K on|off
  tb_exec "$1" iptables -t raw -D PREROUTING -f -j DROP 2>/dev/null || true
  [[ "$2" == on ]] && tb_exec "$1" iptables -t raw -A PREROUTING -f -j DROP
  return 0
}

# One iptables-restore per host, so that the cut takes effect at about the same moment everywhere.
tb_partition() {
  local a b
  for a in $1; do tb_drop_from "$a" "$2"; done
  for b in $2; do tb_drop_from "$b" "$1"; done
}

tb_drop_from() {  # HOST "OTHERS..": host HOST stops talking with OTHERS
  local k=$1 o rules="*filter"$'\n'
  for o in $2; do rules+="-A INPUT -s $(tb_ip "$o") -j DROP"$'\n'"-A OUTPUT -d $(tb_ip "$o") -j DROP"$'\n'; done
  tb_exec "$k" iptables-restore --noflush <<<"${rules}COMMIT"
}

tb_heal() {
  local k
  for k in $(seq 1 "$TB_N"); do
    tb_exec "$k" iptables -F INPUT
    tb_exec "$k" iptables -F OUTPUT
  done
}

tb_cleanup() {
  local k ns
  trap - EXIT INT TERM
  set +e  # runs from traps: every step is attempted whatever failed before it
  for k in "${!TB_PID[@]}"; do [[ -n "${TB_PID[$k]}" ]] && kill -9 "${TB_PID[$k]}" 2>/dev/null; done
  for k in "${!TB_PID[@]}"; do [[ -n "${TB_PID[$k]}" ]] && wait "${TB_PID[$k]}" 2>/dev/null; done
  for k in "${!TB_DELAY_PID[@]}"; do
    [[ -n "${TB_DELAY_PID[$k]}" ]] && { kill -9 "${TB_DELAY_PID[$k]}"; wait "${TB_DELAY_PID[$k]}"; } 2>/dev/null
  done
  # Processes a host started on its own (tshark, iftop, ...) die with their namespace's last use.
  for ns in $(ip netns list 2>/dev/null | awk -v p="$TB_PREFIX" 'index($1, p) == 1 {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null || echo "testbed: could not delete namespace $ns" >&2
  done
  TB_PID=()
  TB_DELAY_PID=()
  TB_N=0
  if declare -F tb_on_cleanup >/dev/null; then tb_on_cleanup; fi
  return 0
}
