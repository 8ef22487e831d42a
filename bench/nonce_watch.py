#!/usr/bin/env python3
"""Watches sealed peer datagrams on loopback for nonce reuse (bench/soak.sh's restore scenario).

Captures UDP datagrams on lo to the given ports (root: an AF_PACKET socket) for --seconds and
reads each one's seal header (datagram_seal.h): salted (0b00 + tag | epoch | salt | counter),
packed (0b10 + tag | epoch | counter), compact (0xF2 | tag | epoch | counter) or v1. A nonce is
reused when two datagrams from one sender port to one receiver port name the same (epoch, salt,
counter) with different bytes. Prints one JSON line: datagrams read, nonces, reused.
  nonce_watch.py --ports FIRST-LAST --seconds S     (SIGTERM ends it early, still reporting)
"""
import argparse
import json
import signal
import socket
import struct
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def varint(b, pos):
    value = shift = 0
    while pos < len(b):
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("cut short")


def nonce_of(payload):
    first = payload[0]
    if first == 0xF2:
        epoch, pos = varint(payload, 3)
        counter, _ = varint(payload, pos)
        return ("plain", epoch, 0, counter)
    if first >> 6 == 0b00:
        epoch, pos = varint(payload, 1)
        salt = payload[pos:pos + 8]
        counter, _ = varint(payload, pos + 8)
        return ("salted", epoch, salt.hex(), counter)
    if first >> 6 == 0b10:
        epoch, pos = varint(payload, 1)
        counter, _ = varint(payload, pos)
        return ("plain", epoch, 0, counter)
    if payload[:3] == b"FS\x01":
        epoch, counter = struct.unpack(">IQ", payload[19:31])
        return ("plain", epoch, 0, counter)
    raise ValueError("not a sealed datagram")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True, help="FIRST-LAST: the nodes' peer ports")
    ap.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()
    first, last = (int(p) for p in args.ports.split("-"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    seen = {}
    read = reused = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # ends early, still reporting
    until = time.monotonic() + args.seconds
    while time.monotonic() < until and not stop:
        try:
            frame, address = s.recvfrom(70000)
        except socket.timeout:
            continue
        if address[2] == PACKET_OUTGOING or len(frame) < 14 + 20 + 8:
            continue  # loopback shows each packet twice: keep the incoming copy
        ip = frame[14:]
        if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            continue
        udp = ip[(ip[0] & 0x0F) * 4:]
        sport, dport = struct.unpack(">HH", udp[:4])
        if not (first <= dport <= last and first <= sport <= last):
            continue
        payload = bytes(udp[8:])
        try:
            key = (sport, dport) + nonce_of(payload)
        except (ValueError, IndexError):
            continue
        read += 1
        before = seen.get(key)
        if before is None:
            seen[key] = payload
        elif before != payload:
            reused += 1
    print(json.dumps({"datagrams": read, "nonces": len(seen), "reused": reused}))


if __name__ == "__main__":
    main()
