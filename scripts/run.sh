#!/usr/bin/env bash
# Local fednode peers (four by default: 127.0.0.1:5000-5003) train a CNN together: the Raft leader
# aggregates, the three others train, the rounds are replicated through the Raft log.
#   scripts/run.sh [--rounds R] [--epochs E] [--base-port P] [--dataset cifar10|fashion-mnist]
#                  [--peers N] [--run-dir DIR] [--timeout S] [--keep-running] [-- EXTRA FEDNODE FLAGS]
#                  [--data 'PATTERN{i}' --model FILE.pt]  each peer trains its own data: {i} becomes
#                                    the peer's number (1..N), e.g. parties/party-{i}.npz
#                  [--export FILE.pt] writes the final model before the peers stop (TorchScript
#                                    with --model, else a state dict)
#                  [--attackers K]   EXPERIMENTS ONLY: the last K peers send sign-flipped updates
#                                    scaled by 10 (--attack sign-flip) and, with a long election
#                                    timeout, stay trainers
# Uses data/cifar-10-batches-bin (downloading it with scripts/get-cifar10.sh if missing); when
# that fails (offline), Debian's Fashion-MNIST, with a warning. Prints one line per committed
# round and a summary, then stops the peers (Ctrl-C stops them at any time). Everything goes to
# runs/<time>/ (or --run-dir): node-<port>.log, node-<port>/events.jsonl (JSON lines), rounds.tsv, summary.txt.
# FEDNODE_BIN=PATH runs that binary instead of building build/fednode first (with
# libfednode-torch.so in the same directory, or FEDNODE_TORCH_MODULE naming it).
# scripts/kill-leader.sh kills the current aggregator during a run; scripts/plot.sh RUN_DIR plots.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base_port=5000
rounds=""
epochs=""
dataset=""
keep=0
peers=4
attackers=0
timeout=0
run_dir=""
data_pattern=""
model_file=""
export_to=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base-port) base_port=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --keep-running) keep=1; shift ;;
    --peers) peers=$2; shift 2 ;;
    --attackers) attackers=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --data) data_pattern=$2; shift 2 ;;
    --model) model_file=$2; shift 2 ;;
    --export) export_to=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run.sh: unknown option '$1' (use --rounds R, --epochs E, --base-port P, --dataset D, --peers N, --run-dir DIR, --attackers K, --keep-running, -- FLAGS)" >&2; exit 2 ;;
  esac
done
[[ -z "$rounds" || "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds '$rounds' is not a positive number" >&2; exit 2; }
[[ -z "$epochs" || "$epochs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --epochs '$epochs' is not a positive number" >&2; exit 2; }
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "run.sh: --timeout '$timeout' is not a number of seconds" >&2; exit 2; }
[[ "$peers" =~ ^[0-9]+$ && $peers -ge 2 && $peers -le 32 ]] || { echo "run.sh: --peers '$peers' is not a number from 2 to 32" >&2; exit 2; }
[[ "$attackers" =~ ^[0-9]+$ && $attackers -lt $((peers - 1)) ]] || { echo "run.sh: --attackers '$attackers' must leave an honest aggregator and trainer (fewer than $((peers - 1)))" >&2; exit 2; }
[[ -z "$dataset" || "$dataset" == cifar10 || "$dataset" == fashion-mnist ]] || { echo "run.sh: --dataset '$dataset' is not cifar10 or fashion-mnist" >&2; exit 2; }
if [[ -n "$data_pattern" ]]; then
  [[ "$data_pattern" == *"{i}"* ]] || { echo "run.sh: --data '$data_pattern' needs {i} where each peer's number goes" >&2; exit 2; }
  [[ -z "$dataset" ]] || { echo "run.sh: --data and --dataset exclude each other" >&2; exit 2; }
  for i in $(seq 1 "$peers"); do
    f=${data_pattern//\{i\}/$i}
    [[ -e "$f" ]] || { echo "run.sh: --data: peer $i's data $f does not exist" >&2; exit 2; }
  done
  [[ -z "$model_file" || -f "$model_file" ]] || { echo "run.sh: --model '$model_file' is not a file" >&2; exit 2; }
fi

bin=${FEDNODE_BIN:-}
if [[ -z "$bin" ]]; then
  "$root/scripts/build.sh"
  bin=${FEDNODE_BUILD_DIR:-$root/build}/fednode
fi
[[ -x "$bin" ]] || { echo "run.sh: FEDNODE_BIN '$bin' is not an executable" >&2; exit 2; }

data_flags=()
cifar_dir=${FEDNODE_CIFAR10_DIR:-$root/data/cifar-10-batches-bin}
if [[ -n "$data_pattern" ]]; then
  data_flags=(--partition none)
  [[ -n "$model_file" ]] && data_flags+=(--model "$(cd "$(dirname "$model_file")" && pwd)/$(basename "$model_file")")
elif [[ "$dataset" != fashion-mnist ]]; then
  if [[ -f "$cifar_dir/data_batch_1.bin" ]] || { [[ -z "${FEDNODE_CIFAR10_DIR:-}" ]] && "$root/scripts/get-cifar10.sh"; }; then
    data_flags=(--dataset cifar10 --dataset-dir "$cifar_dir")
  elif [[ "$dataset" == cifar10 ]]; then
    echo "run.sh: CIFAR-10 is not available (see above)" >&2
    exit 1
  fi
fi
if [[ ${#data_flags[@]} -eq 0 && -z "$data_pattern" ]]; then
  if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    echo "run.sh: neither CIFAR-10 nor Debian's Fashion-MNIST is available (apt-get install dataset-fashion-mnist)" >&2
    exit 1
  fi
  [[ "$dataset" == fashion-mnist ]] ||
    echo "run.sh: WARNING: CIFAR-10 is not available; training on Debian's Fashion-MNIST instead" >&2
  data_flags=(--dataset fashion-mnist --dataset-dir /usr/share/datasets/fashion-mnist)
fi
flags=("${data_flags[@]}")
[[ -n "$rounds" ]] && flags+=(--rounds "$rounds")
[[ -n "$epochs" ]] && flags+=(--local-epochs "$epochs")
flags+=("${extra[@]}")
want=${rounds:-$(awk -F'= *' '/^rounds *=/ {print $2}' "$root/configs/local4.toml")}

[[ -n "$run_dir" ]] || run_dir="$root/runs/$(date +%Y%m%d-%H%M%S)"
[[ ! -e "$run_dir/peers" ]] || { echo "run.sh: $run_dir already holds a run" >&2; exit 2; }
mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
addresses=()
nodes=$(seq 0 $((peers - 1)))
for i in $nodes; do addresses+=("127.0.0.1:$((base_port + i))"); done
printf '%s\n' "${addresses[@]}" >"$run_dir/peers"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "run.sh: stopping peers"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "run.sh: logs, events and rounds in $run_dir (plot: scripts/plot.sh $run_dir)"
}
trap stop INT TERM EXIT

# Secure mode, as on real machines: a node key per peer (in its run directory), and every peer
# names the others with their public keys.
keys=()
for i in $nodes; do
  keys[$i]=$("$bin" keygen --out "$run_dir/node-$((base_port + i))" 2>/dev/null) ||
    { echo "run.sh: fednode keygen failed" >&2; exit 1; }
done
for i in $nodes; do
  self=${addresses[$i]}
  others=()
  for j in $nodes; do [[ $j -ne $i ]] && others+=("${addresses[$j]}=${keys[$j]}"); done
  port=$((base_port + i))
  attack=()
  [[ $i -ge $((peers - attackers)) ]] &&
    attack=(--attack sign-flip --election-timeout-min-ms 1500 --election-timeout-max-ms 2000)
  own=()
  if [[ -n "$data_pattern" ]]; then
    f=${data_pattern//\{i\}/$((i + 1))}
    own=(--data "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
  fi
  "$bin" --config "$root/configs/local4.toml" --data-dir "$run_dir/node-$port" "${flags[@]}" "${own[@]}" "${attack[@]}" \
    "$self" "${others[@]}" >"$run_dir/node-$port.log" 2>&1 &
  pids+=($!)
  echo "$!" >"$run_dir/node-$port.pid"
done
echo "run.sh: $peers peers on ${addresses[*]}, ${data_pattern:-${data_flags[1]}}, $want rounds; run dir $run_dir"
[[ $attackers -eq 0 ]] || echo "run.sh: EXPERIMENT: the last $attackers peer(s) send sign-flipped updates"
printf '%-6s %-16s %-12s %-9s %-9s %s\n' round aggregator participants accuracy federated seconds

started=$(date +%s.%N)
last=0
while [[ $last -lt $want ]]; do
  sleep 2  # each poll is a sealed ctl call; plot.sh's traffic plot shows what they cost
  alive=0
  for i in $nodes; do
    kill -0 "${pids[$i]}" 2>/dev/null || continue
    alive=$((alive + 1))
    # Rounds are shown once their test metrics are in (they follow the commit in their own entry).
    if lines=$("$bin" ctl "${addresses[$i]}" rounds --tsv --evaluated --since "$last" 2>/dev/null); then
      while IFS=$'\t' read -r r id agg parts samples tl tloss acc s_ms e_ms held _bs _ss floss fmetric fsamples; do
        [[ -n "$r" ]] || continue
        n=$(awk -F, '{print NF}' <<<"$parts")
        # accuracy: the aggregator's own test split ("-" without one); federated: every party's
        # own test split, sample-weighted (runs on each party's own data).
        printf '%-6s %-16s %-12s %-9s %-9s %.1f\n' "$r" "$agg" "$n" "$(awk -v a="$acc" 'BEGIN{print (a=="-")?"-":sprintf("%.4f",a)}')" \
          "$(awk -v a="${fmetric:--}" 'BEGIN{print (a=="-")?"-":sprintf("%.4f",a)}')" "$(awk -v a="$s_ms" -v b="$e_ms" 'BEGIN{print (b-a)/1000}')"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$id" "$agg" "$parts" "$samples" "$tl" "$tloss" "$acc" "$s_ms" "$e_ms" \
          "${floss:--}" "${fmetric:--}" "${fsamples:-0}" >>"$run_dir/rounds.tsv"
        last=$r
      done <<<"$lines"
      break
    fi
  done
  [[ $alive -gt 0 ]] || { echo "run.sh: every peer has exited; see $run_dir/node-*.log" >&2; exit 1; }
  if [[ $timeout -gt 0 ]] && awk -v a="$started" -v b="$(date +%s.%N)" -v t="$timeout" 'BEGIN{exit !(b - a > t)}'; then
    echo "run.sh: --timeout: $last of $want rounds committed in $timeout s" | tee "$run_dir/timed-out" >&2
    exit 3
  fi
done

elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
{
  fed=""
  if [[ "$(tail -1 "$run_dir/rounds.tsv" | cut -f13)" != 0 ]]; then
    fed="; federated $(tail -1 "$run_dir/rounds.tsv" | cut -f12) over $(tail -1 "$run_dir/rounds.tsv" | cut -f13) samples of every party's own test split"
  fi
  echo "run.sh: $want rounds committed in $elapsed s; final test accuracy $(tail -1 "$run_dir/rounds.tsv" | cut -f8) (aggregator's test split)$fed"
  echo "aggregators: $(cut -f3 "$run_dir/rounds.tsv" | uniq -c | awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}')"
  echo "traffic per node (bytes):"
  for a in "${addresses[@]}"; do
    "$bin" ctl "$a" status 2>/dev/null && break
  done
} | tee "$run_dir/summary.txt"
if [[ -n "$export_to" ]]; then
  format=()
  [[ -n "$model_file" ]] && format=(--format torchscript --model "$model_file")
  for i in $nodes; do
    "$bin" ctl --key-file "$run_dir/node-$((base_port + i))/node.key" --cluster-id fednode-local4 "${addresses[$i]}" export-model latest \
      --out "$export_to" "${format[@]}" && break
  done
fi
if [[ $keep -eq 1 ]]; then
  echo "run.sh: --keep-running: peers stay up until Ctrl-C"
  wait
fi
