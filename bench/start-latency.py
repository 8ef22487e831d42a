#!/usr/bin/env python3
"""How soon fednode does something after exec (the libtorch module loads only to train):
    bench/start-latency.py FEDNODE_BINARY [--trials 20] [--compare OTHER_BINARY]

Per trial, on this machine's monotonic clock:
  version   `fednode --version` to its exit
  ctl       `fednode ctl HOST:PORT status` against a running node, to its exit
  serve     exec of a peer (a restart of one of a 3-node group, data dir kept) to its first answer
            on the client channel, which the same control loop serves as Raft
Prints min / median / max of each in milliseconds; --compare measures another build (one that
links libtorch, say) the same way in the same run.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import free_ports


DIAGNOSTIC = b"\x81\xa4type\xaadiagnostic"  # msgpack {type: diagnostic}, zatt's plaintext form


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(DIAGNOSTIC)
            return len(s.recv(1)) > 0
    except OSError:
        return False


def timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.monotonic() - t0) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--compare", default="")
    a = ap.parse_args()
    for b in [a.binary] + ([a.compare] if a.compare else []):
        print(b)
        measure(os.path.abspath(b), a.trials)


def measure(binary, trials):
    work = tempfile.mkdtemp(prefix="fednode-start-")
    ports = free_ports(6)
    addr = [f"127.0.0.1:{p}" for p in ports[:3]]

    def start(i):
        others = [addr[j] for j in range(3) if j != i]
        return subprocess.Popen([binary, addr[i], *others, "--insecure", "--data-dir", f"{work}/d{i}",
                                 "--data-port", str(ports[3 + i])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [start(i) for i in range(3)]
    try:
        time.sleep(1.0)
        results = {"version": [], "ctl": [], "serve": []}
        for _ in range(trials):
            results["version"].append(timed([binary, "--version"]))
            results["ctl"].append(timed([binary, "ctl", addr[0], "status"]))
            procs[2].kill()
            procs[2].wait()
            t0 = time.monotonic()
            procs[2] = start(2)
            while not answers(ports[2]):
                if time.monotonic() - t0 > 10:
                    sys.exit("the restarted peer did not answer within 10 s")
                time.sleep(0.001)
            results["serve"].append((time.monotonic() - t0) * 1000)
        for k, v in results.items():
            print(f"{k:8s} min {min(v):7.1f} ms  median {statistics.median(v):7.1f} ms  max {max(v):7.1f} ms  ({len(v)} trials)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
