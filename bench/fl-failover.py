#!/usr/bin/env python3
"""Failover of the aggregator, measured many times in one long run:
    bench/fl-failover.py FEDNODE_BINARY [--trials 50] [--peers 4] [--out DIR] [--insecure]
                         [--compare-invite-wait MS] [--compare OTHER_BINARY]

Starts PEERS local peers (secure mode unless --insecure) on a long run of short rounds (the CIFAR
subset from ../shared or $FEDNODE_CIFAR10_DIR, else Debian's Fashion-MNIST; 600 training
images). Each trial waits for a round to start, lets a random 0-400 ms of it pass, kills -9 the
round's aggregator, and measures on this machine's monotonic clock (the nodes' events carry it
as mono_ms) the time until a surviving node applies the next round_start of a later term; then
it restarts the dead node from its data dir and lets it catch up. Prints each trial and the
percentiles; writes DIR/failover.tsv. Default election timeouts (150-300 ms).
--compare-invite-wait MS then runs as many trials on a fresh group whose nodes have
--invite-wait-ms MS (300: how long new leaders waited for every follower before), and prints both.
--compare OTHER_BINARY runs as many trials with another build (an older one) the same way.
"""
import argparse
import glob
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset_flags():
    cifar = os.environ.get("FEDNODE_CIFAR10_DIR",
                           os.path.join(ROOT, "..", "shared", "datasets", "cifar10-subset", "cifar-10-batches-bin"))
    if os.path.exists(os.path.join(cifar, "data_batch_1.bin")):
        return ["--dataset", "cifar10", "--dataset-dir", cifar]
    return ["--dataset", "fashion-mnist", "--dataset-dir", "/usr/share/datasets/fashion-mnist"]


class Events:
    """Reads the nodes' events.jsonl files incrementally."""

    def __init__(self, paths):
        self.offsets = {p: 0 for p in paths}

    def new(self):
        out = []
        for p in self.offsets:
            try:
                with open(p) as f:
                    f.seek(self.offsets[p])
                    data = f.read()
            except FileNotFoundError:
                continue
            complete = data[:data.rfind("\n") + 1]
            self.offsets[p] += len(complete)
            out += [json.loads(line) for line in complete.splitlines() if line]
        return out


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--peers", type=int, default=4)
    ap.add_argument("--out", default="")
    ap.add_argument("--insecure", action="store_true")
    ap.add_argument("--compare-invite-wait", type=int, default=-1)
    ap.add_argument("--compare", default="")
    a = ap.parse_args()
    summaries = [run_trials(a, [], "default")]
    if a.compare_invite_wait >= 0:
        summaries.append(run_trials(a, ["--invite-wait-ms", str(a.compare_invite_wait)],
                                    "invite-wait-%d" % a.compare_invite_wait))
    if a.compare:
        a.binary = a.compare
        summaries.append(run_trials(a, [], "compared-binary"))
    for line in summaries:
        print(line)


def run_trials(a, node_flags, label):
    out = a.out or tempfile.mkdtemp(prefix="fl-failover-")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="fl-failover-work-")
    n = a.peers
    ports = free_ports(2 * n)
    addr = ["127.0.0.1:%d" % p for p in ports[:n]]
    keys = []
    for i in range(n):
        if a.insecure:
            keys.append("")
            continue
        keys.append(subprocess.run([a.binary, "keygen", "--out", "%s/k%d" % (work, i)], check=True,
                                   capture_output=True, text=True).stdout.strip())
    procs = {}

    def start(i):
        others = [addr[j] + ("" if a.insecure else "=" + keys[j]) for j in range(n) if j != i]
        cmd = [a.binary, addr[i]] + others + ["--data-dir", "%s/d%d" % (work, i), "--data-port", str(ports[n + i]),
                                              "--rounds", "100000", "--local-epochs", "1", "--train-limit", "600",
                                              "--test-limit", "500", "--deadline-s", "20", "--min-clients", "1"]
        cmd += ["--insecure"] if a.insecure else ["--key-file", "%s/k%d/node.key" % (work, i)]
        cmd += dataset_flags() + node_flags
        log = open("%s/log%d" % (work, i), "a")
        procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=os.setsid)

    def stop_all():
        for p in procs.values():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    events = Events(["%s/d%d/events.jsonl" % (work, i) for i in range(n)])
    results = []
    try:
        for i in range(n):
            start(i)
        latest = None  # the latest applied round_start
        deadline = time.monotonic() + 120
        while latest is None and time.monotonic() < deadline:
            for e in events.new():
                if e["event"] == "round_start":
                    latest = e
            time.sleep(0.05)
        if latest is None:
            sys.exit("fl-failover: no round started within 120 s; see %s/log*" % work)
        for trial in range(1, a.trials + 1):
            # A round that starts from now on; a random moment into it.
            seen = None
            until = time.monotonic() + 60
            while seen is None and time.monotonic() < until:
                for e in events.new():
                    if e["event"] == "round_start":
                        seen = e
                time.sleep(0.01)
            if seen is None:
                sys.exit("fl-failover: trial %d: no round started within 60 s; see %s/log*" % (trial, work))
            time.sleep(random.uniform(0, 0.4))
            for e in events.new():
                if e["event"] == "round_start":
                    seen = e
            victim = addr.index(seen["aggregator"])
            os.killpg(procs[victim].pid, signal.SIGKILL)
            killed_at = time.monotonic() * 1000
            procs[victim].wait()
            took = None
            until = time.monotonic() + 30
            while took is None and time.monotonic() < until:
                for e in events.new():
                    if e["event"] == "round_start" and e["term"] > seen["term"] and e["node"] != addr[victim]:
                        took = e["mono_ms"] - killed_at
                        break
                time.sleep(0.005)
            if took is None:
                sys.exit("fl-failover: trial %d: no new round within 30 s of the kill; see %s/log*" % (trial, work))
            results.append(took)
            print("trial %2d: killed %s (term %d) -> round_start of term %d in %.0f ms" %
                  (trial, addr[victim], seen["term"], e["term"], took), flush=True)
            start(victim)
            time.sleep(2.5)  # the restarted node loads, replays its log and catches up
    finally:
        stop_all()
    with open(os.path.join(out, "failover-%s.tsv" % label), "w") as f:
        f.write("trial\tfailover_ms\n")
        for i, r in enumerate(results, 1):
            f.write("%d\t%.0f\n" % (i, r))
    return ("fl-failover %s: %d trials, %s mode, %d peers: min %.0f, p50 %.0f, p90 %.0f, p99 %.0f, max %.0f ms, "
            "mean %.0f ms (%s/failover-%s.tsv)" % (label, len(results), "insecure" if a.insecure else "secure", n,
                                                  min(results), percentile(results, 50), percentile(results, 90),
                                                  percentile(results, 99), max(results), statistics.mean(results), out,
                                                  label))


if __name__ == "__main__":
    main()
