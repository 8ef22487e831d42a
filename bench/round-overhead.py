#!/usr/bin/env python3
"""Round overhead: how much of a round is not the slowest trainer's training.
    bench/round-overhead.py FEDNODE_BINARY [--compare OLD_BINARY] [--datasets fashion-mnist,cifar10]
                            [--rounds 10] [--epochs 2] [--repeats 1] [--out DIR] [--keep]
                            [--config FILE] [--compare-config FILE]

For each data set (and each binary, side by side, alternating, in one invocation), a fresh secure
group of 4 local peers started as scripts/run.sh starts them (configs/local4.toml: 10 ms ticks,
100 ms heartbeats, one libtorch thread each), the data set's full training set over the 3
trainers. Measured from the aggregator's events on this machine's monotonic clock (mono_ms):
  round r's time   round 1: its round_start applied -> its round_commit applied;
                   round r > 1: round r-1's commit applied -> round r's commit applied (so the gap
                   between a commit and the next start counts)
  slowest          the largest train_seconds among round r's updates (the trainers' own clocks
                   around their local training only)
  overhead         (time - slowest) / time: per round; "steady" is the median over rounds 2..R,
                   "run" is (sum of times - sum of slowest) / sum of times over rounds 1..R
  wall             round 1's start applied -> round R's commit applied
  accuracy         of round R's model
  raft/data        the aggregator's Raft UDP and data-plane TCP bytes (in + out: as the leader it
                   sees every Raft datagram of the group) per round over rounds 2..R, and their ratio
CIFAR-10 is read from $FEDNODE_CIFAR10_DIR or ../shared/datasets/cifar10-subset (skipped with a
message when absent); Fashion-MNIST from Debian's dataset-fashion-mnist.
Writes DIR/overhead.tsv (one line per run) and DIR/rounds.tsv (one line per round).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import events, free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST = "/usr/share/datasets/fashion-mnist"


def cifar_dir():
    return os.environ.get("FEDNODE_CIFAR10_DIR",
                          os.path.join(ROOT, "..", "shared", "datasets", "cifar10-subset", "cifar-10-batches-bin"))


def run_one(binary, config, dataset, rounds, epochs, work):
    n = 4
    ports = free_ports(2 * n)
    keys = [subprocess.run([binary, "keygen", "--out", f"{work}/keys/{i}"], check=True, capture_output=True,
                           text=True).stdout.strip() for i in range(n)]
    addr = lambda i: f"127.0.0.1:{ports[i]}"
    data = ["--dataset", "fashion-mnist", "--dataset-dir", FMNIST] if dataset == "fashion-mnist" else \
        ["--dataset", "cifar10", "--dataset-dir", cifar_dir()]
    procs = []
    for i in range(n):
        cmd = [binary, "--config", config, addr(i)]
        cmd += [f"{addr(j)}={keys[j]}" for j in range(n) if j != i]
        cmd += ["--key-file", f"{work}/keys/{i}/node.key", "--data-dir", f"{work}/d{i}", "--data-port",
                str(ports[n + i]), "--rounds", str(rounds), "--local-epochs", str(epochs)] + data
        procs.append(subprocess.Popen(cmd, stdout=open(f"{work}/log{i}", "w"), stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if any(e.get("event") == "run_done" for i in range(n) for e in events(f"{work}/d{i}/events.jsonl")):
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a peer exited early; see " + work)
        else:
            raise RuntimeError(f"{rounds} rounds did not complete in 30 minutes; see {work}")
        time.sleep(1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    all_events = [events(f"{work}/d{i}/events.jsonl") for i in range(n)]
    commits = [e for e in all_events[0] if e.get("event") == "round_commit"]
    aggregators = {c["aggregator"] for c in commits}
    if len(aggregators) != 1:
        raise RuntimeError(f"the aggregator changed during the run ({aggregators}); see {work}")
    agg = [addr(i) for i in range(n)].index(next(iter(aggregators)))
    ev = all_events[agg]
    start1 = next(e["mono_ms"] for e in ev if e.get("event") == "round_start" and e["round"] == 1)
    commit_at = {}
    for e in ev:
        if e.get("event") == "round_commit":
            commit_at.setdefault(e["round"], e["mono_ms"])
    slowest = {}
    for e in ev:
        if e.get("event") == "update_received":
            slowest[e["round"]] = max(slowest.get(e["round"], 0.0), e["train_seconds"])
    accuracy = None
    for e in ev:  # new binaries: round_evaluated; older ones carried it in round_commit
        if e.get("round") == rounds and e.get("event") in ("round_evaluated", "round_commit") and "test_accuracy" in e:
            accuracy = e["test_accuracy"]
    per_round = []
    for r in range(1, rounds + 1):
        t = (commit_at[r] - (start1 if r == 1 else commit_at[r - 1])) / 1000.0
        per_round.append((r, t, slowest[r], (t - slowest[r]) / t))
    ends = {e["round"]: e for e in ev if e.get("event") == "round_commit"}

    def steady_bytes(channel):
        total = lambda e: e[channel]["bytes_in"] + e[channel]["bytes_out"]
        return (total(ends[rounds]) - total(ends[1])) / (rounds - 1)
    total_t = sum(t for _, t, _, _ in per_round)
    total_s = sum(s for _, _, s, _ in per_round)
    return {
        "steady": statistics.median(o for r, _, _, o in per_round if r > 1),
        "run": (total_t - total_s) / total_t,
        "round1": per_round[0][3],
        "mean_round_s": total_t / rounds,
        "wall_s": (commit_at[rounds] - start1) / 1000.0,
        "accuracy": accuracy,
        "raft_kb": steady_bytes("raft_udp") / 1e3,
        "data_mb": steady_bytes("data_tcp") / 1e6,
        "rounds": per_round,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--compare", help="another fednode binary, run alternately with the same settings")
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "local4.toml"),
                    help="the peers' config file (default: configs/local4.toml)")
    ap.add_argument("--compare-config", help="the config file for the --compare binary (default: --config), "
                    "for a binary older than an option in it")
    ap.add_argument("--datasets", default="fashion-mnist,cifar10")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "round-overhead", time.strftime("%Y-%m-%d")),
                    help="where the results go (default: bench/results/round-overhead/<today>)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    a = ap.parse_args()
    binaries = [("new", os.path.abspath(a.binary), a.config)]
    if a.compare:
        binaries.append(("old", os.path.abspath(a.compare), a.compare_config or a.config))
    for _, b, _ in binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"round-overhead.py: '{b}' is not an executable")
    if a.rounds < 2:
        sys.exit("round-overhead.py: --rounds must be at least 2 (steady state is rounds 2..R)")
    datasets = a.datasets.split(",")
    for d in datasets:
        if d not in ("fashion-mnist", "cifar10"):
            sys.exit(f"round-overhead.py: unknown data set '{d}' (fashion-mnist, cifar10)")
    os.makedirs(a.out, exist_ok=True)
    summary = open(os.path.join(a.out, "overhead.tsv"), "w")
    summary.write("dataset\tbinary\trepeat\tsteady_overhead\trun_overhead\tround1_overhead\tmean_round_s\twall_s\taccuracy"
                  "\traft_kb_per_round\tdata_mb_per_round\traft_over_data\n")
    per_round = open(os.path.join(a.out, "rounds.tsv"), "w")
    per_round.write("dataset\tbinary\trepeat\tround\tround_s\tslowest_s\toverhead\n")
    print(f"{'dataset':14} {'binary':6} {'steady':>8} {'run':>8} {'round 1':>8} {'round s':>8} {'wall s':>8} {'accuracy':>9} {'raft KB':>8} {'data MB':>8} {'raft/data':>9}")
    for dataset in datasets:
        if dataset == "cifar10" and not os.path.exists(os.path.join(cifar_dir(), "data_batch_1.bin")):
            print(f"round-overhead.py: skipping cifar10: no data_batch_1.bin in {cifar_dir()} (set FEDNODE_CIFAR10_DIR)")
            continue
        if dataset == "fashion-mnist" and not os.path.exists(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")):
            print("round-overhead.py: skipping fashion-mnist: apt-get install dataset-fashion-mnist")
            continue
        for k in range(a.repeats):
            for name, b, config in binaries:
                work = tempfile.mkdtemp(prefix=f"fednode-overhead-{dataset}-{name}-")
                res = run_one(b, config, dataset, a.rounds, a.epochs, work)
                acc = "-" if res["accuracy"] is None else f"{res['accuracy']:.4f}"
                ratio = 100 * res["raft_kb"] / 1e3 / res["data_mb"]
                print(f"{dataset:14} {name:6} {100 * res['steady']:7.2f}% {100 * res['run']:7.2f}% "
                      f"{100 * res['round1']:7.2f}% {res['mean_round_s']:8.2f} {res['wall_s']:8.1f} {acc:>9} "
                      f"{res['raft_kb']:8.1f} {res['data_mb']:8.3f} {ratio:8.2f}%", flush=True)
                summary.write(f"{dataset}\t{name}\t{k}\t{res['steady']:.5f}\t{res['run']:.5f}\t{res['round1']:.5f}\t"
                              f"{res['mean_round_s']:.3f}\t{res['wall_s']:.2f}\t{acc}\t{res['raft_kb']:.2f}\t"
                              f"{res['data_mb']:.4f}\t{ratio / 100:.5f}\n")
                for r, t, s, o in res["rounds"]:
                    per_round.write(f"{dataset}\t{name}\t{k}\t{r}\t{t:.3f}\t{s:.3f}\t{o:.5f}\n")
                summary.flush()
                per_round.flush()
                if not a.keep:
                    shutil.rmtree(work, ignore_errors=True)
    print(f"round-overhead.py: wrote {a.out}/overhead.tsv and rounds.tsv")


if __name__ == "__main__":
    main()
