#!/usr/bin/env python3
"""Report of bench/testbed-traffic.sh: bytes per channel by iftop, tshark and the nodes' counters.

  testbed_traffic_report.py RUN_DIR HOSTS ROUNDS PORT DATA_PORT

Every byte is counted once, by its sender: iftop's cumulative "sent" on each host's eth0, the
IP length (and the UDP/TCP payload) of the frames each host's capture shows it sending, and the
bytes_out each node counts on its channel (the client channel is counted by its servers as
requests in plus answers out, since its clients, `fednode ctl`, keep no counters).
"""
import json
import re
import subprocess
import sys

CHANNELS = ("raft", "client", "data")
# The datagram each host sends at the end so that iftop prints its last block (see the script).
MARKER_IP_BYTES = 29


def iftop_sent(path):
    """Bytes sent in the last "Cumulative" line of an `iftop -t -B` output (units of 1024)."""
    last = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("Cumulative"):
                last = line
    if last is None:
        return None
    m = re.search(r":\s+([0-9.]+)([KMG]?B)", last)
    scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[m.group(2)]
    return float(m.group(1)) * scale


def events(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def channel_of(proto, sport, dport, port, data_port):
    if proto == "udp" and port in (sport, dport):
        return "raft"
    if proto == "tcp" and port in (sport, dport):
        return "client"
    if proto == "tcp" and data_port in (sport, dport):
        return "data"
    return None


def sent_frames(pcap, ip, port, data_port):
    """(epoch_seconds, channel, ip_bytes, payload_bytes) of every frame `ip` sent."""
    fields = ["frame.time_epoch", "ip.src", "ip.len", "udp.srcport", "udp.dstport", "udp.length",
              "tcp.srcport", "tcp.dstport", "tcp.len"]
    cmd = ["tshark", "-r", pcap, "-T", "fields"] + [a for f in fields for a in ("-e", f)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for row in text.splitlines():
        c = row.split("\t")
        if len(c) < 9 or c[1] != ip or not c[2]:
            continue
        if c[5]:
            ch, payload = channel_of("udp", int(c[3]), int(c[4]), port, data_port), int(c[5]) - 8
        elif c[8]:
            ch, payload = channel_of("tcp", int(c[6]), int(c[7]), port, data_port), int(c[8])
        else:
            continue
        if ch:
            yield float(c[0]), ch, int(c[2]), payload


def main(run_dir, hosts, rounds, port, data_port):
    iftop = {ch: 0.0 for ch in CHANNELS}
    cap_ip = {ch: 0 for ch in CHANNELS}
    cap_payload = {ch: 0 for ch in CHANNELS}
    own = {ch: 0 for ch in CHANNELS}
    # per round r: bytes between the (r-1)th and rth round_commit each node applied
    round_cap = [{ch: 0 for ch in CHANNELS} for _ in range(rounds + 1)]
    round_own = [{ch: 0 for ch in CHANNELS} for _ in range(rounds + 1)]
    for k in range(1, hosts + 1):
        ip = f"198.18.0.{k}"
        for ch in CHANNELS:
            v = iftop_sent(f"{run_dir}/iftop-h{k}-{ch}.txt")
            iftop[ch] += max(0, (v or 0) - MARKER_IP_BYTES)
        ev = events(f"{run_dir}/d{k}/events.jsonl")
        commits = {}
        for e in ev:
            if e["event"] == "round_commit" and e["round"] not in commits:
                commits[e["round"]] = e
        stopped = [e for e in ev if e["event"] == "stopped"]
        if stopped:
            s = stopped[-1]
            own["raft"] += s["raft_udp"]["bytes_out"]
            own["data"] += s["data_tcp"]["bytes_out"]
            own["client"] += s["client_tcp"]["bytes_in"] + s["client_tcp"]["bytes_out"]
        prev = {ch: 0 for ch in CHANNELS}
        for r in range(1, rounds + 1):
            if r not in commits:
                continue
            c = commits[r]
            now = {"raft": c["raft_udp"]["bytes_out"], "data": c["data_tcp"]["bytes_out"],
                   "client": c["client_tcp"]["bytes_in"] + c["client_tcp"]["bytes_out"]}
            for ch in CHANNELS:
                round_own[r][ch] += now[ch] - prev[ch]
            prev = now
        bounds = [commits[r]["ts"] / 1000 if r in commits else None for r in range(1, rounds + 1)]
        for t, ch, ip_len, payload in sent_frames(f"{run_dir}/h{k}.pcapng", ip, port, data_port):
            cap_ip[ch] += ip_len
            cap_payload[ch] += payload
            for r, end in enumerate(bounds, 1):
                if end is not None and t <= end:
                    round_cap[r][ch] += payload
                    break

    print(f"traffic of {rounds} rounds on {hosts} testbed hosts (198.18.0.1-{hosts}), ports: Raft UDP {port}, "
          f"client TCP {port}, data plane TCP {data_port}; bytes sent, all hosts")
    print(f"{'channel':<8} {'iftop (IP)':>14} {'tshark (IP)':>14} {'tshark payload':>15} {'node counters':>14} "
          f"{'iftop/tshark':>13} {'payload/counted':>16}")
    for ch in CHANNELS:
        r1 = iftop[ch] / cap_ip[ch] if cap_ip[ch] else float("nan")
        r2 = cap_payload[ch] / own[ch] if own[ch] else float("nan")
        print(f"{ch:<8} {iftop[ch]:>14.0f} {cap_ip[ch]:>14d} {cap_payload[ch]:>15d} {own[ch]:>14d} {r1:>13.3f} {r2:>16.4f}")
    print("per round (payload bytes sent between two commits, as each host applied them; tshark | counters)")
    print(f"{'round':>5} {'raft':>21} {'client':>21} {'data':>25} {'raft/data':>10}")
    for r in range(1, rounds + 1):
        cells = [f"{round_cap[r][ch]:>10d} |{round_own[r][ch]:>9d}" for ch in ("raft", "client")]
        cells.append(f"{round_cap[r]['data']:>12d} |{round_own[r]['data']:>11d}")
        share = round_own[r]["raft"] / round_own[r]["data"] if round_own[r]["data"] else float("nan")
        print(f"{r:>5} {cells[0]:>21} {cells[1]:>21} {cells[2]:>25} {100 * share:>9.2f}%")
    per = {ch: own[ch] / rounds for ch in CHANNELS}
    print(f"whole run per round (counters): Raft {per['raft']:.0f} B, client {per['client']:.0f} B, "
          f"data plane {per['data']:.0f} B; iftop per round: Raft {iftop['raft'] / rounds:.0f} B, "
          f"data plane {iftop['data'] / rounds:.0f} B (IP)")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
