#!/usr/bin/env python3
"""Where a write's time goes: reads `perf script` output of a system-wide profile taken while
cluster-bench wrote (perf record -a -g), files each sample under the first category whose
pattern matches a frame of its stack (most specific first), and prints each category's share of
the machine and its CPU microseconds per acknowledged write.

  perf script -i perf.data -F comm,ip,sym | bench/perf_categories.py --writes N --seconds S --cpus C
"""
import argparse
import re
import sys
from collections import Counter

# (category, pattern on a frame's symbol), checked in order over every frame of a sample.
CATEGORIES = [
    ("disk: fdatasync", r"__x64_sys_fdatasync|__x64_sys_fsync|\bfdatasync\b|\bfsync\b"),
    ("disk: log and file writes", r"__x64_sys_write\b|__x64_sys_pwrite64|__x64_sys_rename|__x64_sys_openat"),
    ("UDP peer datagrams out", r"udp_sendmsg"),
    ("UDP peer datagrams in", r"udp_recvmsg"),
    ("TCP client replies out", r"tcp_sendmsg"),
    ("TCP client requests in", r"tcp_recvmsg"),
    ("event loop wait (epoll)", r"__x64_sys_epoll_wait|epoll_wait"),
    ("timers and other syscalls", r"__x64_sys_|do_syscall_64"),
    ("checksums (crc32c)", r"crc32c"),
    ("sealing (libsodium)", r"crypto_|sodium"),
    ("msgpack encode/decode", r"msgpack"),
    ("key-value apply", r"KvStore"),
    ("Raft core", r"fednode::raft::"),
    ("allocator", r"\bmalloc\b|_int_malloc|_int_free|\bcfree\b|\bfree\b|malloc_consolidate|unlink_chunk"),
]


def parse(stream):
    """Yields (comm, [symbols]) per sample of `perf script -F comm,ip,sym` output."""
    comm, frames = None, []
    for line in stream:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            comm = line.split()[0]
        else:
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "")
    if comm is not None:
        yield comm, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writes", type=float, required=True, help="writes acknowledged per second in the run")
    ap.add_argument("--seconds", type=float, required=True, help="seconds the profile covers")
    ap.add_argument("--cpus", type=int, required=True)
    ap.add_argument("--node", default="fednode", help="process name of the nodes")
    ap.add_argument("--show-other", type=int, default=0, help="print the N commonest leaf symbols of 'other'")
    args = ap.parse_args()
    compiled = [(name, re.compile(p)) for name, p in CATEGORIES]
    counts = Counter()
    other_leaves = Counter()
    total = 0
    for comm, frames in parse(sys.stdin):
        total += 1
        if comm == "swapper":
            counts["idle"] += 1
            continue
        if not comm.startswith(args.node[:15]):
            counts["client load generator and other processes"] += 1
            continue
        for name, pattern in compiled:
            if any(pattern.search(f) for f in frames):
                counts["node: " + name] += 1
                break
        else:
            counts["node: other"] += 1
            other_leaves[frames[0] if frames else "?"] += 1
    if total == 0:
        sys.exit("perf_categories.py: no samples on stdin")
    cpu_us = args.cpus * args.seconds * 1e6
    writes = args.writes * args.seconds
    print(f"{'where':<48} {'share':>7} {'us/write':>9}")
    order = ["idle", "client load generator and other processes"] + ["node: " + n for n, _ in CATEGORIES] + ["node: other"]
    node_share = 0.0
    for name in order:
        if counts[name] == 0:
            continue
        share = counts[name] / total
        if name.startswith("node: "):
            node_share += share
        print(f"{name:<48} {100 * share:6.1f}% {share * cpu_us / writes:9.1f}")
    print(f"{'node processes in all':<48} {100 * node_share:6.1f}% {node_share * cpu_us / writes:9.1f}")
    for leaf, n in other_leaves.most_common(args.show_other):
        print(f"  other: {leaf} {100 * n / total:.2f}%")


if __name__ == "__main__":
    main()
