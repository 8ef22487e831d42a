#!/usr/bin/env python3
"""How far one aggregator scales: 3 voters and N learners that join by themselves.
    bench/fl-scale.py FEDNODE_BINARY [--learners 4,8,16,32] [--rounds 5] [--train-limit 15000]
                      [--out DIR] [--keep] [--plot-only]

For each N, a fresh secure group on loopback: 3 voters (they admit the learners' keys) and N
learners started with --join, Debian's Fashion-MNIST (the first TRAIN_LIMIT training images split
over all N + 2 trainers, 2,000 test images), --torch-threads 1, FedAvg, --min-available N + 2 so
that round 1 waits for everyone. Measured from the aggregator's events on this machine's
monotonic clock (mono_ms) and its traffic counters (round_commit carries them):
  round_s      round_start applied to round_commit applied, mean over the rounds
  overhead     (round time - the slowest trainer's training) / round time, mean over the rounds
  agg_rss_mb   the aggregator's peak resident memory (VmHWM) at the end of the run
  idle_rss_mb  a learner's resident memory once the run is complete, mean over the learners
  data_mb      data-plane bytes in + out at the aggregator per round (rounds 2..R: round 1 also
               carries the initial model fetches)
  raft_kb      Raft channel bytes in + out at the aggregator per round (rounds 2..R)
Writes DIR/scale.tsv and, with gnuplot, DIR/scale.png.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import events, free_ports

FMNIST = "/usr/share/datasets/fashion-mnist"


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_one(binary, learners, rounds, train_limit, work):
    voters = 3
    n = voters + learners
    ports = free_ports(2 * n)
    keys = []
    for i in range(n):
        keys.append(subprocess.run([binary, "keygen", "--out", f"{work}/keys/{i}"], check=True,
                                   capture_output=True, text=True).stdout.strip())
    addr = lambda i: f"127.0.0.1:{ports[i]}"
    spec = lambda i: f"{addr(i)}={keys[i]}"
    common = ["--rounds", str(rounds), "--dataset", "fashion-mnist", "--dataset-dir", FMNIST,
              "--train-limit", str(train_limit), "--test-limit", "2000", "--torch-threads", "1",
              "--min-available", str(learners + voters - 1), "--min-clients", str(learners + voters - 1),
              "--deadline-s", "600"]
    admit = []
    for i in range(voters, n):
        admit += ["--admit-key", keys[i]]
    procs = {}
    for i in range(n):
        if i < voters:
            cmd = [binary, addr(i)] + [spec(j) for j in range(voters) if j != i] + admit
        else:
            cmd = [binary, addr(i), "--join", spec(i % voters)]
        cmd += ["--key-file", f"{work}/keys/{i}/node.key", "--data-dir", f"{work}/d{i}",
                "--data-port", str(ports[n + i])] + common
        procs[i] = subprocess.Popen(cmd, stdout=open(f"{work}/log{i}", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 1800
        done = None
        while time.monotonic() < deadline and done is None:
            time.sleep(0.5)
            for i in range(voters):
                if any(e.get("event") == "run_done" for e in events(f"{work}/d{i}/events.jsonl")):
                    done = i
                    break
            if any(p.poll() is not None for p in procs.values()):
                raise RuntimeError("a node exited early; see " + work)
        if done is None:
            raise RuntimeError(f"{rounds} rounds did not commit in 30 minutes; see {work}")
        time.sleep(2)  # the learners apply the last commit and go idle
        commits = [e for e in events(f"{work}/d{done}/events.jsonl") if e.get("event") == "round_commit"]
        aggregators = {c["aggregator"] for c in commits}
        if len(aggregators) != 1:
            raise RuntimeError(f"the aggregator changed during the run ({aggregators}); see {work}")
        agg = ports.index(int(next(iter(aggregators)).rsplit(":", 1)[1]))
        agg_events = events(f"{work}/d{agg}/events.jsonl")
        starts = {e["round"]: e["mono_ms"] for e in agg_events if e.get("event") == "round_start"}
        ends = {e["round"]: e for e in agg_events if e.get("event") == "round_commit"}
        slowest = {}
        for e in agg_events:
            if e.get("event") == "update_received":
                slowest[e["round"]] = max(slowest.get(e["round"], 0.0), e.get("train_seconds", 0.0))
        round_s, overhead = [], []
        for r in range(1, rounds + 1):
            t = (ends[r]["mono_ms"] - starts[r]) / 1000.0
            round_s.append(t)
            overhead.append((t - slowest.get(r, 0.0)) / t if t > 0 else 0.0)

        def bytes_of(e, channel):
            c = e[channel]
            return c["bytes_in"] + c["bytes_out"]
        steady = rounds - 1 if rounds > 1 else 1
        first = ends[1] if rounds > 1 else {"data_tcp": {"bytes_in": 0, "bytes_out": 0},
                                             "raft_udp": {"bytes_in": 0, "bytes_out": 0}}
        data = (bytes_of(ends[rounds], "data_tcp") - bytes_of(first, "data_tcp")) / steady
        raft = (bytes_of(ends[rounds], "raft_udp") - bytes_of(first, "raft_udp")) / steady
        agg_rss = status_kb(procs[agg].pid, "VmHWM") / 1024.0
        idle = [status_kb(procs[i].pid, "VmRSS") / 1024.0 for i in range(voters, n)]
        accuracy = next(e["test_accuracy"] for e in agg_events
                        if e.get("event") == "round_evaluated" and e["round"] == rounds)
        return {
            "learners": learners, "trainers": len(commits[-1]["participants"].split(",")) if isinstance(
                commits[-1]["participants"], str) else len(commits[-1]["participants"]),
            "round_s": statistics.mean(round_s), "round1_s": round_s[0],
            "overhead": statistics.mean(overhead[1:] if rounds > 1 else overhead),
            "agg_rss_mb": agg_rss, "idle_rss_mb": statistics.mean(idle),
            "data_mb": data / 1e6, "raft_kb": raft / 1e3, "accuracy": accuracy,
        }
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in procs.values():
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--learners", default="4,8,16,32")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--train-limit", type=int, default=15000)
    ap.add_argument("--out", default="")
    ap.add_argument("--keep", action="store_true", help="keep each run's directory")
    ap.add_argument("--plot-only", action="store_true", help="no runs: plot what OUT/scale.tsv holds")
    a = ap.parse_args()
    if not os.path.exists(f"{FMNIST}/train-images-idx3-ubyte.gz"):
        sys.exit(f"fl-scale.py: no Fashion-MNIST at {FMNIST} (apt-get install dataset-fashion-mnist)")
    try:
        counts = [int(x) for x in a.learners.split(",")]
    except ValueError:
        sys.exit(f"fl-scale.py: --learners '{a.learners}' is not a list of numbers")
    if a.rounds < 2 or any(c < 1 for c in counts):
        sys.exit("fl-scale.py: needs --rounds of at least 2 and positive learner counts")
    out = a.out or os.path.join(os.getcwd(), "runs", time.strftime("scale-%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    cols = ["learners", "trainers", "round_s", "round1_s", "overhead", "agg_rss_mb", "idle_rss_mb", "data_mb",
            "raft_kb", "accuracy"]
    rows = []
    for c in ([] if a.plot_only else counts):
        work = tempfile.mkdtemp(prefix=f"fednode-scale-{c}-")
        t0 = time.monotonic()
        row = run_one(os.path.abspath(a.binary), c, a.rounds, a.train_limit, work)
        rows.append(row)
        print("\t".join(f"{k}={row[k]:.3f}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in cols),
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    if not a.plot_only:
        with open(os.path.join(out, "scale.tsv"), "w") as f:
            f.write("\t".join(cols) + "\n")
            for r in rows:
                f.write("\t".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]) for k in cols) + "\n")
        print(f"wrote {out}/scale.tsv")
    if shutil.which("gnuplot"):
        script = f"""set terminal pngcairo size 1100,420
set output '{out}/scale.png'
set multiplot layout 1,3 title 'One aggregator, 3 voters + N learners (Fashion-MNIST, {a.rounds} rounds)'
set xlabel 'learners'
set logscale x 2
set key top left
set ylabel 'seconds'
plot '{out}/scale.tsv' using 1:3 with linespoints title 'round time', '' using 1:($3*$5) with linespoints title 'overhead'
set ylabel 'MB'
set yrange [0:*]
plot '{out}/scale.tsv' using 1:6 with linespoints title 'aggregator peak RSS', '' using 1:7 with linespoints title 'idle learner RSS'
set ylabel 'MB per round at the aggregator'
plot '{out}/scale.tsv' using 1:8 with linespoints title 'data plane', '' using 1:($9/1000) with linespoints title 'Raft'
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        print(f"wrote {out}/scale.png")


if __name__ == "__main__":
    main()
