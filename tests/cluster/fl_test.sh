#!/usr/bin/env bash
# Federated rounds through Raft with real processes on loopback (random free ports), on the real
# CIFAR-10 subset when present ($FEDNODE_CIFAR10_DIR or ../shared/datasets), else on Debian's
# Fashion-MNIST, else skipped (exit 77).
#   fl_test.sh FEDNODE_BINARY basic
#       4 peers, 4 rounds: every node reports the same model id for every round and holds the
#       latest model, and none the models of rounds 1-2 (--keep-models 2); `ctl export-model`
#       writes the latest as a PyTorch state dict (loaded by Python where python3-torch is), and
#       refuses a retired one; accuracy improves over round 1; one election only (heartbeats flow while every
#       trainer trains); the data plane counters moved the models.
#   fl_test.sh FEDNODE_BINARY kill POINT          (POINT = start|training|aggregating|pushed)
#       4 peers, 3 rounds; the aggregator of round 2 dies (like kill -9) at POINT: all 3 rounds
#       commit, round 1 keeps its id, another node aggregates round 2; the dead node restarts
#       from its data dir and catches up.
#   fl_test.sh FEDNODE_BINARY trainers
#       4 peers, 4 rounds, --min-clients 2, --rotate-every 1: a trainer is killed while it trains
#       round 2, which commits with the two updates that arrived (partial aggregation); round 3
#       invites only the live trainers; the aggregator role rotates to another voter every round.
#   fl_test.sh FEDNODE_BINARY robust AGGREGATOR
#       5 peers, 5 rounds; one trainer (with a long election timeout, so that it trains) sends its updates sign-flipped and scaled by 10 (--attack sign-flip). With a robust
#       aggregator (median, trimmed-mean) the final accuracy stays above the data set's bound;
#       with fedavg it collapses below it (the test shows both, so the bound separates them).
#   fl_test.sh FEDNODE_BINARY optimizer AGGREGATOR     (AGGREGATOR = fedavgm|fedadam|fedyogi)
#       4 peers, 4 rounds with a server optimiser; the aggregator of round 2 dies (like kill -9)
#       once its model and server state are on a majority, before its commit. Every round
#       continues the server state committed with the one before (ids: base state of round r =
#       state of round r-1) across the change of aggregator; a majority of voters holds each
#       state; every node reports the same history.
#   fl_test.sh FEDNODE_BINARY watch
#       4 peers, 3 rounds, `fednode ctl ... watch` running in a tmux session (skipped without
#       tmux): the screen shows every member with its role and kind, the leader's channel rates,
#       the run, a round under way with its phase and updates, and the accuracy of committed
#       rounds; it redraws (the clock moves) and ends with the run complete.
#   fl_test.sh FEDNODE_BINARY twokills
#       5 peers, 4 rounds; aggregators die during training of round 2 and during aggregation of
#       round 3: round numbers stay absolute and the run ends after exactly 4 rounds. Then a
#       follower loses its data dir and catches up through a snapshot and a model fetch.
set -euo pipefail
bin=$1
scenario=$2
point=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=lib.sh
source "$root/tests/cluster/lib.sh"
fl_pick_dataset

start_workspace

n=4
rounds=3
extra=()
case "$scenario" in
  basic) rounds=4; extra=(--local-epochs 2 --keep-models 2) ;;
  kill)
    [[ "$point" =~ ^(start|training|aggregating|pushed)$ ]] || { echo "usage: fl_test.sh BIN kill start|training|aggregating|pushed" >&2; exit 2; }
    extra=(--crash-at "$point:2" --crash-marker-dir "$work") ;;
  trainers) rounds=4; extra=(--min-clients 2 --rotate-every 1 --local-epochs 3) ;;
  robust)
    [[ "$point" =~ ^(fedavg|median|trimmed-mean)$ ]] || { echo "usage: fl_test.sh BIN robust fedavg|median|trimmed-mean" >&2; exit 2; }
    n=5; rounds=5
    extra=(--aggregator "$point" --trim-fraction 0.25 --min-clients 3 --local-epochs 2)
    train_limit=(--train-limit 8000) ;;
  optimizer)
    [[ "$point" =~ ^(fedavgm|fedadam|fedyogi)$ ]] || { echo "usage: fl_test.sh BIN optimizer fedavgm|fedadam|fedyogi" >&2; exit 2; }
    rounds=4
    extra=(--aggregator "$point" --crash-at pushed:2 --crash-marker-dir "$work" --min-clients 2) ;;
  watch)
    command -v tmux >/dev/null || { echo "SKIP: tmux not installed"; exit 77; }
    extra=(--local-epochs 2) ;;
  twokills)
    n=5; rounds=4
    extra=(--crash-at training:2 --crash-at aggregating:3 --crash-marker-dir "$work" --snapshot-entries 16)
    train_limit=(--train-limit 2400) ;;
  *) echo "usage: fl_test.sh BIN basic|kill POINT|trainers|robust AGGREGATOR|optimizer AGGREGATOR|watch|twokills" >&2; exit 2 ;;
esac

ports=()
mapfile -t all_ports < <(free_ports $((2 * n)))
ports=("${all_ports[@]:0:n}")
dports=("${all_ports[@]:n}")
addr() { echo "127.0.0.1:${ports[$1]}"; }
make_keys "$n"
attacker=-1
start() {
  local i=$1 others=() attack=()
  [[ $i -eq $attacker ]] && attack=(--attack sign-flip --election-timeout-min-ms 1500 --election-timeout-max-ms 2000)
  for j in $(seq 0 $((n - 1))); do [[ $j -ne $i ]] && others+=("$(peer_spec "$j")"); done
  # Data ports: free ones too, passed explicitly (peers learn them over the client channel).
  "$bin" "$(addr "$i")" "${others[@]}" --key-file "$(key_file "$i")" --data-dir "$work/d$i" --data-port "${dports[$i]}" --rounds "$rounds" \
    --deadline-s 60 "${data[@]}" "${train_limit[@]}" "${extra[@]}" "${attack[@]}" >>"$work/log$i" 2>&1 &
  pids[$i]=$!
}
ctl() { "$bin" ctl "$@"; }
alive() { kill -0 "${pids[$1]}" 2>/dev/null; }
committed() { ctl "$(addr "$1")" rounds --tsv 2>/dev/null | wc -l; }
wait_rounds() {  # node|any count seconds
  local until=$((SECONDS + $3))
  while [[ $SECONDS -lt $until ]]; do
    if [[ $1 == any ]]; then
      for i in $(seq 0 $((n - 1))); do alive "$i" && [[ $(committed "$i") -ge $2 ]] && return 0; done
    else
      [[ $(committed "$1") -ge $2 ]] && return 0
    fi
    sleep 0.2
  done
  if [[ $1 == any ]]; then fail "no live node reached $2 committed rounds in $3 s"; fi
  fail "node $1 did not reach $2 committed rounds in $3 s (has $(committed "$1"))"
}
# The test metrics follow each commit in their own entry: wait until every committed round on the
# node has them.
evaluated() { ctl "$(addr "$1")" rounds --tsv --evaluated 2>/dev/null | wc -l; }
wait_evaluated() {  # node seconds
  local until=$((SECONDS + $2))
  while [[ $SECONDS -lt $until ]]; do
    [[ $(committed "$1") -gt 0 && $(evaluated "$1") -eq $(committed "$1") ]] && return 0
    sleep 0.2
  done
  fail "node $1 has $(evaluated "$1") of $(committed "$1") committed rounds evaluated after $2 s"
}
first_alive() { for i in $(seq 0 $((n - 1))); do alive "$i" && { echo "$i"; return; }; done; }
round_ids() { ctl "$(addr "$1")" rounds --tsv | cut -f1,2; }
check_same_rounds() {  # every live node: same (round, model id) list, and it holds the latest model
  local ref=$1 want
  want=$(round_ids "$ref")
  for i in $(seq 0 $((n - 1))); do
    alive "$i" || continue
    wait_rounds "$i" "$rounds" 60
    [[ "$(round_ids "$i")" == "$want" ]] || fail "node $i reports other rounds than node $ref: $(round_ids "$i") vs $want"
    for _ in $(seq 50); do ctl "$(addr "$i")" rounds --tsv | tail -1 | grep -q missing || break; sleep 0.2; done
    ctl "$(addr "$i")" rounds --tsv | tail -1 | grep -q missing && fail "node $i does not hold the latest model"
  done
  [[ $(echo "$want" | cut -f1 | tr '\n' ' ') == "$(seq -s ' ' 1 "$rounds") " ]] || fail "rounds are not 1..$rounds: $want"
  return 0
}

t0=$(date +%s)
# robust: the last node attacks; its long election timeout leaves the first election to the others,
# so that it trains rather than aggregates.
[[ $scenario == robust ]] && attacker=$((n - 1))
for i in $(seq 0 $((n - 1))); do start "$i"; done

case "$scenario" in
  basic)
    wait_rounds 0 "$rounds" 180
    check_same_rounds 0
    wait_evaluated 0 60
    ctl "$(addr 0)" rounds
    acc1=$(ctl "$(addr 0)" rounds --tsv | awk -F'\t' '$1==1 {print $8}')
    accn=$(ctl "$(addr 0)" rounds --tsv | awk -F'\t' -v r="$rounds" '$1==r {print $8}')
    awk -v a="$acc1" -v b="$accn" 'BEGIN { exit !(b > a) }' || fail "accuracy did not improve: round 1 $acc1, round $rounds $accn"
    elections=$(events_py count became_leader "$work"/d*/events.jsonl)
    [[ "$elections" -eq 1 ]] || fail "$elections leaders elected during the run (heartbeats stalled while training?)"
    trained=$(events_py count trained "$work"/d*/events.jsonl)
    [[ "$trained" -ge $((rounds * (n - 1))) ]] || fail "only $trained local trainings for $rounds rounds of $((n - 1)) trainers"
    data_bytes=$(ctl "$(addr 0)" diagnostic | events_py json stats.data_tcp.bytes_in)
    [[ "$data_bytes" -gt 200000 ]] || fail "data plane counters show $data_bytes bytes in on node 0"
    # Secure mode: the latest model is not served to a plaintext stranger.
    latest=$(round_ids 0 | awk -v r="$rounds" '$1==r {print $2}')
    [[ "$(plaintext_fetch "${dports[1]}" "$latest")" == refused ]] || fail "a plaintext stranger fetched model $latest"
    # --keep-models 2: the models of rounds 1-2 (and the initial one) are gone from every peer,
    # the latest is on every peer.
    old1=$(round_ids 0 | awk '$1==1 {print $2}'); old2=$(round_ids 0 | awk '$1==2 {print $2}')
    for _ in $(seq 20); do ls "$work"/d*/models/ | grep -q "^$old2$" || break; sleep 0.2; done
    for i in $(seq 0 $((n - 1))); do
      for gone in "$old1" "$old2"; do [[ ! -e "$work/d$i/models/$gone" ]] || fail "node $i still holds retired model ${gone:0:12}"; done
      [[ -f "$work/d$i/models/$latest" ]] || fail "node $i does not hold the latest model"
    done
    # The federated model out as a PyTorch state dict, through a member's key; a retired one cannot be.
    exported=$(ctl "$(addr 1)" --key-file "$(key_file 1)" export-model latest --out "$work/latest.pt") ||
      fail "export-model failed: $exported"
    [[ "$exported" == "round $rounds model $latest "* ]] || fail "export-model exported '$exported', not round $rounds's $latest"
    [[ "$(head -c 2 "$work/latest.pt")" == PK && $(stat -c %s "$work/latest.pt") -gt 10000 ]] || fail "latest.pt is not a PyTorch archive"
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
      /usr/bin/python3 -c "import torch; sd = torch.load('$work/latest.pt'); assert sum(t.numel() for t in sd.values()) > 10000" ||
        fail "Python's torch cannot load the exported model"
    fi
    # Without a key: told at once that one is needed, not a time-out.
    t_nokey=$SECONDS
    nokey=$(ctl "$(addr 1)" export-model latest --out "$work/nokey.pt" 2>&1) && fail "exported without a key"
    [[ "$nokey" == *"export-model needs --key-file"* && $((SECONDS - t_nokey)) -le 3 ]] ||
      fail "export-model without a key said '$nokey' after $((SECONDS - t_nokey)) s"
    retired=$(ctl "$(addr 1)" --key-file "$(key_file 1)" export-model 1 --out "$work/r1.pt" 2>&1) && fail "exported retired round 1"
    [[ "$retired" == *"--keep-models"* ]] || fail "exporting a retired model said '$retired'"
    echo "ok: $rounds rounds, same model ids on $n nodes, accuracy $acc1 -> $accn, one election, $(($(date +%s) - t0)) s"
    ;;
  robust)
    if [[ $point == fedavg ]]; then
      # FedAvg follows the attacker. Once its model's loss is no longer finite, every honest
      # update is refused too (non-finite loss) and the round runs again and again: the run may
      # stop short, so the last committed round is judged.
      until=$((SECONDS + 30))
      while [[ $SECONDS -lt $until && $(committed 0) -lt $rounds ]]; do sleep 0.5; done
    else
      wait_rounds any "$rounds" 300
    fi
    ref=$(first_alive)
    wait_evaluated "$ref" 60
    ctl "$(addr "$ref")" rounds
    trained_bad=$(events_py count trained "$work/d$attacker/events.jsonl")
    [[ "$trained_bad" -ge 1 ]] || fail "the attacker never trained (it must be a trainer for the test to mean anything)"
    acc=$(ctl "$(addr "$ref")" rounds --tsv | tail -1 | cut -f8)
    # Chance is 0.10 on both data sets; honest training reaches about 0.75 (Fashion-MNIST, 8,000
    # images) or 0.35 (CIFAR subset) in 5 rounds of 2 epochs.
    bound=0.5; [[ "${data[1]}" == cifar10 ]] && bound=0.2
    if [[ $point == fedavg ]]; then
      awk -v a="$acc" -v b="$bound" 'BEGIN { exit !(a < b) }' || fail "fedavg kept accuracy $acc >= $bound against a sign-flipping trainer: the attack has no teeth"
    else
      awk -v a="$acc" -v b="$bound" 'BEGIN { exit !(a >= b) }' || fail "$point fell to accuracy $acc < $bound against one sign-flipping trainer"
    fi
    echo "ok: $point with one sign-flipping trainer ($trained_bad trainings): accuracy $acc after $(committed "$ref") of $rounds rounds (bound $bound), $(($(date +%s) - t0)) s"
    ;;
  kill)
    # Round 1 commits normally (its aggregator may die right after); remember its id.
    wait_rounds any 1 120
    id1=""
    for i in $(seq 0 $((n - 1))); do [[ -z "$id1" ]] && id1=$(round_ids "$i" 2>/dev/null | awk '$1==1 {print $2}' || true); done
    for _ in $(seq 600); do [[ -e "$work/$point-2" ]] && break; sleep 0.1; done
    [[ -e "$work/$point-2" ]] || fail "no aggregator reached $point of round 2"
    killed=""
    for _ in $(seq 50); do
      for i in $(seq 0 $((n - 1))); do alive "$i" || killed=$i; done
      [[ -n "$killed" ]] && break
      sleep 0.1
    done
    [[ -n "$killed" ]] || fail "the aggregator did not exit at $point"
    echo "node $killed (aggregator) died at $point of round 2"
    ref=$(first_alive)
    wait_rounds "$ref" "$rounds" 120
    check_same_rounds "$ref"
    [[ "$(round_ids "$ref" | awk '$1==1 {print $2}')" == "$id1" ]] || fail "round 1 changed its model id"
    agg2=$(ctl "$(addr "$ref")" rounds --tsv | awk -F'\t' '$1==2 {print $3}')
    [[ "$agg2" != "$(addr "$killed")" ]] || fail "round 2 was committed by the dead aggregator $agg2"
    ctl "$(addr "$ref")" rounds
    # The dead node restarts from its data dir and catches up (rounds and models).
    start "$killed"
    check_same_rounds "$ref"
    echo "ok: killed at $point, round 2 aggregated by $agg2, node $killed restarted and caught up, $(($(date +%s) - t0)) s"
    ;;
  optimizer)
    wait_rounds any 1 120
    for _ in $(seq 600); do [[ -e "$work/pushed-2" ]] && break; sleep 0.1; done
    [[ -e "$work/pushed-2" ]] || fail "no aggregator reached pushed of round 2"
    sleep 0.3
    killed=""
    for i in $(seq 0 $((n - 1))); do alive "$i" || killed=$i; done
    [[ -n "$killed" ]] || fail "the aggregator did not exit after pushing round 2"
    ref=$(first_alive)
    wait_rounds "$ref" "$rounds" 180
    check_same_rounds "$ref"
    ctl "$(addr "$ref")" rounds
    tsv=$(ctl "$(addr "$ref")" rounds --tsv)
    prev="-"
    for r in $(seq 1 "$rounds"); do
      base=$(awk -F'\t' -v r="$r" '$1==r {print $12}' <<<"$tsv")
      state=$(awk -F'\t' -v r="$r" '$1==r {print $13}' <<<"$tsv")
      [[ "$base" == "$prev" ]] || fail "round $r continues server state ${base:0:12}, but round $((r - 1)) committed ${prev:0:12}"
      [[ "$state" =~ ^[0-9a-f]{64}$ ]] || fail "round $r committed no server state ('$state')"
      holders=0
      for i in $(seq 0 $((n - 1))); do [[ -f "$work/d$i/models/$state" ]] && holders=$((holders + 1)); done
      [[ $holders -ge 3 ]] || fail "the server state of round $r is on $holders of $n voters, not a majority"
      prev=$state
    done
    agg1=$(awk -F'\t' '$1==1 {print $3}' <<<"$tsv")
    agg2=$(awk -F'\t' '$1==2 {print $3}' <<<"$tsv")
    [[ "$agg2" != "$(addr "$killed")" && "$agg2" != "$agg1" ]] || fail "round 2 should be aggregated by a new node, got $agg2 (round 1: $agg1, dead: $(addr "$killed"))"
    echo "ok: $point state chained across aggregators $agg1 -> $agg2 (node $killed died after pushing round 2), $(($(date +%s) - t0)) s"
    ;;
  watch)
    session="fednode-watch-$$"
    screen() { tmux capture-pane -p -t "$session"; }
    tmux new-session -d -s "$session" -x 150 -y 30 "$bin ctl $(addr 0) --key-file $(key_file 0) watch --interval 0.5"
    trap 'tmux kill-session -t "$session" 2>/dev/null || true; cleanup_workspace' EXIT
    # A round under way, as the aggregator reports it (phase, updates of invited).
    seen_round=""
    for _ in $(seq 600); do
      if screen | grep -Eq "^round [0-9]+ of $rounds: (collecting|aggregating|pushing|committing), [0-9]+ of 3 updates"; then
        seen_round=$(screen | grep -E "^round [0-9]+ of $rounds:"); break
      fi
      sleep 0.1
    done
    [[ -n "$seen_round" ]] || { screen >&2; fail "the watch never showed a round under way"; }
    wait_rounds 0 "$rounds" 180
    wait_evaluated 0 60
    sleep 1.5
    final=$(screen)
    echo "$final"
    for i in $(seq 0 $((n - 1))); do
      grep -Eq "^$(addr "$i") +(Leader|Follower) +voter " <<<"$final" || fail "the watch does not show member $(addr "$i") with its role"
    done
    [[ $(grep -Ec " Leader +voter " <<<"$final") -eq 1 ]] || fail "the watch does not show exactly one leader"
    grep -E " Leader +voter " <<<"$final" | grep -Eq "[0-9.]+k? +[0-9.]+[kM]? +[0-9.]+[kM]?$" || fail "no channel rates on the leader's line"
    grep -q "^run: $rounds rounds of " <<<"$final" || fail "the watch does not show the run"
    grep -q "$rounds of $rounds rounds committed: run complete" <<<"$final" || fail "the watch does not show the run complete"
    grep -Eq "^accuracy:  r1 0\.[0-9]{3}  r2 0\.[0-9]{3}  r3 0\.[0-9]{3}$" <<<"$final" || fail "the watch does not show the accuracy of rounds 1-3"
    clock1=$(screen | head -1 | awk '{print $4}'); sleep 1.2; clock2=$(screen | head -1 | awk '{print $4}')
    [[ "$clock1" != "$clock2" ]] || fail "the watch did not redraw (clock $clock1)"
    echo "ok: watch under tmux showed '$seen_round', 4 members, the accuracy and the end of the run, $(($(date +%s) - t0)) s"
    ;;
  trainers)
    # Kill a trainer as soon as it starts round 2.
    victim=""
    until=$((SECONDS + 120))
    while [[ -z "$victim" && $SECONDS -lt $until ]]; do
      for i in $(seq 0 $((n - 1))); do
        if [[ -n "$(events_py select training round=2 round "$work/d$i/events.jsonl")" ]]; then victim=$i; break; fi
      done
      sleep 0.05
    done
    [[ -n "$victim" ]] || fail "nobody trained round 2"
    kill -9 "${pids[$victim]}"
    wait "${pids[$victim]}" 2>/dev/null || true
    echo "killed trainer node $victim during round 2"
    ref=$(first_alive)
    wait_rounds "$ref" "$rounds" 180
    check_same_rounds "$ref"
    ctl "$(addr "$ref")" rounds
    tsv=$(ctl "$(addr "$ref")" rounds --tsv)
    r2=$(awk -F'\t' '$1==2 {print $4}' <<<"$tsv")
    [[ "$r2" != *"$(addr "$victim")"* ]] || fail "round 2 aggregated an update of the dead trainer: $r2"
    [[ $(tr ',' '\n' <<<"$r2" | wc -l) -eq 2 ]] || fail "round 2 should aggregate the 2 live trainers' updates, got '$r2'"
    events_py select round_start round=2 participants "$work/d$ref/events.jsonl" | grep -q "$(addr "$victim")" ||
      fail "the dead trainer was not invited to round 2 (the test killed nobody relevant)"
    events_py select round_start round=4 participants "$work/d$ref/events.jsonl" | tail -1 | grep -q "$(addr "$victim")" &&
      fail "the dead trainer was invited to round 4"
    aggs=$(awk -F'\t' '{print $3}' <<<"$tsv" | uniq | wc -l)
    [[ $aggs -ge 3 ]] || fail "with --rotate-every 1 the aggregator should change between rounds: $(awk -F'\t' '{print $3}' <<<"$tsv" | tr '\n' ' ')"
    echo "ok: partial aggregation without dead trainer $victim, $aggs aggregators in turn, $(($(date +%s) - t0)) s"
    ;;
  twokills)
    wait_rounds any 1 120
    for _ in $(seq 900); do [[ -e "$work/aggregating-3" ]] && break; sleep 0.1; done
    [[ -e "$work/training-2" && -e "$work/aggregating-3" ]] || fail "the two injected crashes did not both happen"
    sleep 0.5
    dead=()
    for i in $(seq 0 $((n - 1))); do alive "$i" || dead+=("$i"); done
    [[ ${#dead[@]} -eq 2 ]] || fail "expected 2 dead aggregators, found ${#dead[@]}"
    ref=$(first_alive)
    wait_rounds "$ref" "$rounds" 180
    check_same_rounds "$ref"
    ctl "$(addr "$ref")" rounds
    # The node that died in round 2 committed nothing after; the one that died in round 3
    # aggregated round 2 (it was the second aggregator) but no round after.
    for d in "${dead[@]}"; do
      died=$(events_py field crash_injected round "$work/d$d/events.jsonl" | head -1)
      for r in $(seq "$died" "$rounds"); do
        agg=$(ctl "$(addr "$ref")" rounds --tsv | awk -F'\t' -v r="$r" '$1==r {print $3}')
        [[ "$agg" != "$(addr "$d")" ]] || fail "round $r committed by node $d, which died in round $died"
      done
    done
    sleep 2
    [[ $(committed "$ref") -eq "$rounds" ]] || fail "the run went past $rounds rounds"
    # A follower loses its data dir: it comes back through a snapshot and fetches the model.
    victim=""
    for i in $(seq 0 $((n - 1))); do
      alive "$i" && [[ $i -ne $ref ]] || continue
      ctl "$(addr "$i")" diagnostic | grep -q '"status":"Follower"' && { victim=$i; break; }
    done
    [[ -n "$victim" ]] || fail "no follower to wipe"
    kill -9 "${pids[$victim]}"
    wait "${pids[$victim]}" 2>/dev/null || true
    rm -rf "$work/d$victim"
    start "$victim"
    check_same_rounds "$ref"
    grep -q "installed a snapshot from the leader" "$work/log$victim" || fail "the wiped node did not get a snapshot"
    [[ $(events_py count model_fetched "$work/d$victim/events.jsonl") -gt 0 ]] || fail "the wiped node did not fetch the model"
    echo "ok: two aggregator kills, exactly $rounds rounds, wiped node $victim caught up, $(($(date +%s) - t0)) s"
    ;;
esac
