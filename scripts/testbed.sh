#!/usr/bin/env bash
# Separate machines on one computer: N hosts as network namespaces joined by a bridge, host K
# at 198.18.0.K (RFC 2544's benchmarking range), each running `fednode 198.18.0.K:5000 PEERS...`
# with the same port everywhere, as on real machines. Needs root. Everything it creates (the
# namespaces, their links, tc and iptables rules, the peers) is deleted when it ends, fails or is
# interrupted; no host has a route out of the testbed.
#   scripts/testbed.sh [--hosts N] [--rounds R] [--rate MBIT | --rate K=MBIT]... [--skew K=OFFSET]...
#                      [--delay MS[:JITTER] | --delay K=MS[:JITTER]]... [--loss PCT | --loss K=PCT]...
#                      [--drop-fragments]
#                      [--dataset cifar10|fashion-mnist] [--shell] [-- EXTRA FEDNODE FLAGS]
#                      [--data 'PATTERN{k}' --model FILE.pt]
#     --data PATTERN   each host trains its own data: {k} becomes the host's number (1..N), e.g.
#                      parties/party-{k}.npz (paths without spaces); --model names the TorchScript
#                      file every host loads
#     --rate MBIT      every host's link (both ways) limited to MBIT Mbit/s with tc tbf;
#                      K=MBIT only host K's (repeatable)
#     --skew K=OFFSET  host K's wall clock moved by OFFSET (libfaketime, e.g. 2=+300s)
#     --delay MS[:J]   what every host sends waits MS ms (+- J ms, never reordered), so a pair's
#                      RTT is 2 x MS; K=MS[:J] only host K's (repeatable). NFQUEUE and
#                      fednode-delay-queue, since netem is not available
#     --loss PCT       every host loses PCT % of the packets it receives (IP fragments one by one);
#                      K=PCT only host K (repeatable)
#     --drop-fragments every host drops IP fragments, as many internet paths do
#     --shell          start the peers, then open a shell with these commands (exit tears down):
#                        host K CMD...     run CMD on host K (e.g. host 2 ip addr)
#                        ctl K ARGS...     fednode ctl against host K (status, rounds, diagnostic)
#                        stop K            kill -9 host K's peer;   restart K: start it again
#                        partition "A B" "C D E"   cut the groups apart;   heal: undo every cut
#                        rate K MBIT|off   change host K's link rate
#                        delay K MS[:J]|off, loss K PCT|off   change host K's delay or loss
#                        rounds            the committed rounds as host 1 has them
# Without --shell it waits for R committed rounds, prints every host's history and stops.
# Data and logs go to runs/testbed-<time>/ (node K: dK/ and logK).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hosts=4
rounds=3
dataset=""
shell=0
rates=()
skews=()
delays=()
losses=()
drop_fragments=0
extra=()
data_pattern=""
model_file=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rate) rates+=("$2"); shift 2 ;;
    --skew) skews+=("$2"); shift 2 ;;
    --delay) delays+=("$2"); shift 2 ;;
    --loss) losses+=("$2"); shift 2 ;;
    --drop-fragments) drop_fragments=1; shift ;;
    --dataset) dataset=$2; shift 2 ;;
    --shell) shell=1; shift ;;
    --data) data_pattern=$2; shift 2 ;;
    --model) model_file=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "testbed.sh: unknown option '$1' (see the top of scripts/testbed.sh)" >&2; exit 2 ;;
  esac
done
[[ "$hosts" =~ ^[1-9][0-9]*$ && $hosts -le 64 ]] || { echo "testbed.sh: --hosts '$hosts' is not in 1..64" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "testbed.sh: --rounds '$rounds' is not a positive number" >&2; exit 2; }
[[ -z "$dataset" || "$dataset" == cifar10 || "$dataset" == fashion-mnist ]] || { echo "testbed.sh: --dataset '$dataset' is not cifar10 or fashion-mnist" >&2; exit 2; }

# shellcheck source=../tests/cluster/lib.sh
source "$root/tests/cluster/lib.sh"
# shellcheck source=../tests/testbed/lib.sh
source "$root/tests/testbed/lib.sh"
# shellcheck source=../tests/testbed/peers.sh
source "$root/tests/testbed/peers.sh"
why=$(tb_can_run) || { echo "testbed.sh: $why" >&2; exit 1; }

declare -A host_rate=()
for r in "${rates[@]}"; do
  if [[ "$r" =~ ^([0-9]+)=([0-9.]+|off)$ ]]; then host_rate[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  elif [[ "$r" =~ ^[0-9.]+$ ]]; then for k in $(seq 1 "$hosts"); do host_rate[$k]=$r; done
  else echo "testbed.sh: --rate '$r' is not MBIT or K=MBIT" >&2; exit 2; fi
done
declare -A host_delay=() host_loss=()
for d in "${delays[@]}"; do
  if [[ "$d" =~ ^([0-9]+)=([0-9]+(:[0-9]+)?)$ ]]; then host_delay[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  elif [[ "$d" =~ ^[0-9]+(:[0-9]+)?$ ]]; then for k in $(seq 1 "$hosts"); do host_delay[$k]=$d; done
  else echo "testbed.sh: --delay '$d' is not MS[:JITTER] or K=MS[:JITTER] (milliseconds)" >&2; exit 2; fi
done
for l in "${losses[@]}"; do
  if [[ "$l" =~ ^([0-9]+)=([0-9.]+)$ ]]; then host_loss[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  elif [[ "$l" =~ ^[0-9.]+$ ]]; then for k in $(seq 1 "$hosts"); do host_loss[$k]=$l; done
  else echo "testbed.sh: --loss '$l' is not PCT or K=PCT" >&2; exit 2; fi
done
for k in "${!host_delay[@]}" "${!host_loss[@]}"; do
  [[ $k -ge 1 && $k -le $hosts ]] || { echo "testbed.sh: --delay/--loss name host $k, not one of 1..$hosts" >&2; exit 2; }
done
for s in "${skews[@]}"; do
  [[ "$s" =~ ^([0-9]+)=([+-][0-9]+[smhd]?)$ ]] || { echo "testbed.sh: --skew '$s' is not K=+SECONDSs or K=-SECONDSs" >&2; exit 2; }
  TBP_SKEW[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done

"$root/scripts/build.sh"
bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
if [[ -n "$data_pattern" ]]; then
  [[ "$data_pattern" == *"{k}"* ]] || { echo "testbed.sh: --data '$data_pattern' needs {k} where each host's number goes" >&2; exit 2; }
  data=(--partition none)
  if [[ -n "$model_file" ]]; then
    [[ -f "$model_file" ]] || { echo "testbed.sh: --model '$model_file' is not a file" >&2; exit 2; }
    data+=(--model "$(cd "$(dirname "$model_file")" && pwd)/$(basename "$model_file")")
  fi
  for k in $(seq 1 "$hosts"); do
    f=${data_pattern//\{k\}/$k}
    [[ -e "$f" ]] || { echo "testbed.sh: --data: host $k's data $f does not exist" >&2; exit 2; }
    [[ "$f" != *" "* ]] || { echo "testbed.sh: --data: '$f' has a space" >&2; exit 2; }
    TBP_HOST_FLAGS[$k]="--data $(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
  done
else
  tbp_pick_dataset "$dataset" || { echo "testbed.sh: no CIFAR-10 in data/ (scripts/get-cifar10.sh), \$FEDNODE_CIFAR10_DIR or ../shared" >&2; exit 1; }
fi

run_dir="$root/runs/testbed-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
TBP_BIN=$bin
TBP_WORK=$run_dir
TBP_N=$hosts
TBP_FLAGS=(--rounds "$rounds" --torch-threads 1 "${data[@]}" "${extra[@]}")
export TB_DELAY_QUEUE=${FEDNODE_BUILD_DIR:-$root/build}/fednode-delay-queue
export TB_DELAY_LOG=$run_dir/delay-queue.log
tb_init "$hosts"
for k in "${!host_rate[@]}"; do tb_rate "$k" "${host_rate[$k]}"; done
for k in "${!host_delay[@]}"; do tb_delay "$k" "${host_delay[$k]}"; done
for k in "${!host_loss[@]}"; do tb_loss "$k" "${host_loss[$k]}"; done
if [[ $drop_fragments -eq 1 ]]; then for k in $(seq 1 "$hosts"); do tb_drop_fragments "$k" on; done; fi
tbp_start_all
echo "testbed.sh: $hosts hosts (198.18.0.1-$hosts, port $TBP_PORT), ${data_pattern:-${data[1]}}, $rounds rounds; run in $run_dir"

if [[ $shell -eq 1 ]]; then
  rc="$run_dir/shellrc"
  {
    echo "source '$root/tests/cluster/lib.sh'; source '$root/tests/testbed/lib.sh'; source '$root/tests/testbed/peers.sh'"
    declare -p root TB_PREFIX TB_N TB_PID TB_DELAY_PID TB_DELAY_QUEUE TB_DELAY_LOG TBP_BIN TBP_WORK TBP_N TBP_FLAGS TBP_SKEW TBP_HOST_FLAGS | sed 's/^declare -/declare -g -/'
    cat <<'EOF'
host() { local k=$1; shift; tb_exec "$k" "$@"; }
ctl() { tbp_ctl "$@"; }
stop() { tb_kill "$1" KILL; echo "host $1 stopped"; }
restart() { tbp_start "$1"; echo "host $1 started"; }
partition() { tb_partition "$1" "$2"; echo "cut: {$1} | {$2}"; }
heal() { tb_heal; echo "healed"; }
rate() { tb_rate "$1" "$2"; }
delay() { tb_delay "$1" "$2"; }
loss() { tb_loss "$1" "$2"; }
rounds() { ctl 1 rounds; }
trap - EXIT INT TERM
PS1='testbed> '
echo "commands: host K CMD, ctl K ARGS, stop K, restart K, partition \"A..\" \"B..\", heal, rate K MBIT|off, delay K MS[:J]|off, loss K PCT|off, rounds; exit to tear down"
EOF
  } >"$rc"
  bash --rcfile "$rc" -i || true
  exit 0
fi

tbp_wait_rounds any "$rounds" $((600 + 120 * rounds)) || { echo "testbed.sh: the run did not finish; logs in $run_dir" >&2; exit 1; }
# A round's test metrics commit in an entry of their own after the round: wait for the last
# round's before the histories are printed and the hosts torn down.
evaluated_through() { tbp_ctl "$1" rounds --tsv --evaluated 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }'; }
for _ in $(seq 1 600); do
  for k in $(seq 1 "$hosts"); do
    tb_alive "$k" && [[ $(evaluated_through "$k") -ge $rounds ]] && break 2
  done
  sleep 0.2
done
for k in $(seq 1 "$hosts"); do
  tb_alive "$k" || continue
  tbp_wait_rounds "$k" "$rounds" 60 || true
  echo "== host $k ($(tbp_addr "$k"))"
  tbp_ctl "$k" rounds
done
