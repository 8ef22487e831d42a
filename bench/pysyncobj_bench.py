#!/usr/bin/python3
"""The same write workload as cluster-bench, against PySyncObj (Debian's python3-pysyncobj), the
Raft library of the raft_flower seed: 3 voting nodes on loopback, a replicated dict, blocking
writes of 100-byte values (set(..., sync=True)) from 1, 16 and 64 concurrent client threads in a
fourth, read-only node; then failover trials (SIGKILL the leader -> a write is acknowledged).
Run: bench/pysyncobj_bench.py [--seconds 5]"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.batteries import ReplDict


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_node(self_addr, others, journal):
    d = ReplDict()
    conf = SyncObjConf(journalFile=journal, dynamicMembershipChange=False)
    return SyncObj(self_addr, others, consumers=[d], conf=conf), d


def make_client(voters):
    """A read-only PySyncObj node (no vote): the clients' entry point, so any voter can be killed."""
    d = ReplDict()
    return SyncObj(None, voters, consumers=[d], conf=SyncObjConf(dynamicMembershipChange=False)), d


def run_node(argv):
    self_addr, journal, others = argv[0], argv[1], argv[2:]
    make_node(self_addr, others, journal)
    while True:
        time.sleep(1)


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "node":
        run_node(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--trials", type=int, default=50)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pysyncobj-bench-")
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    procs = []
    for i in range(3):
        others = [a for a in addrs if a != addrs[i]]
        procs.append(subprocess.Popen([sys.executable, __file__, "node", addrs[i], f"{work}/j{i}"] + others))
    try:
        node, d = make_client(addrs)
        while node._getLeader() is None:
            time.sleep(0.01)
        print("3 PySyncObj nodes on loopback (journalFile set; PySyncObj does not fsync per write), 100-byte values")
        print(f"{'clients':<10} {'writes/s':>12} {'p50 ms':>10} {'p99 ms':>10}")
        value = "v" * 100
        for clients in (1, 16, 64):
            stop = threading.Event()
            lat = [[] for _ in range(clients)]

            def load(t):
                k = 0
                while not stop.is_set():
                    start = time.perf_counter()
                    try:
                        d.set(f"c{t}-{k}", value, sync=True, timeout=5)
                    except Exception:
                        continue
                    lat[t].append((time.perf_counter() - start) * 1000)
                    k += 1

            threads = [threading.Thread(target=load, args=(t,)) for t in range(clients)]
            for th in threads:
                th.start()
            time.sleep(args.seconds)
            stop.set()
            for th in threads:
                th.join()
            allv = [x for v in lat for x in v]
            print(f"{clients:<10} {len(allv) / args.seconds:>12.0f} {percentile(allv, 0.5):>10.2f} {percentile(allv, 0.99):>10.2f}")
            sys.stdout.flush()
        # Failover: SIGKILL the leader (when it is one of the two subprocesses) and time until
        # a write from the remaining node is acknowledged; restart the killed node after.
        times = []
        skipped = 0
        trial = 0
        while len(times) < args.trials and trial < 4 * args.trials:
            trial += 1
            deadline = time.time() + 10
            while node._getLeader() is None and time.time() < deadline:
                time.sleep(0.01)
            leader = node._getLeader()
            leader = getattr(leader, "address", leader)
            if leader not in addrs:
                skipped += 1
                time.sleep(0.2)
                continue
            i = addrs.index(leader)
            start = time.perf_counter()
            procs[i].kill()
            procs[i].wait()
            while True:
                try:
                    d.set("failover", trial, sync=True, timeout=1)
                    break
                except Exception:
                    if time.perf_counter() - start > 30:
                        break
            times.append((time.perf_counter() - start) * 1000)
            others = [a for a in addrs if a != addrs[i]]
            procs[i] = subprocess.Popen([sys.executable, __file__, "node", addrs[i], f"{work}/j{i}"] + others)
            time.sleep(1.0)
        if times:
            print(f"failover (SIGKILL leader -> a write is acknowledged), {len(times)} trials "
                  f"({skipped} without a known leader): p50 {percentile(times, 0.5):.0f} ms, "
                  f"p99 {percentile(times, 0.99):.0f} ms, max {max(times):.0f} ms")
        node.destroy()
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
