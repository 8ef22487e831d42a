"""Helpers the Python benchmarks share (imported from the scripts' own directory)."""
import json
import socket


def free_ports(n):
    """N distinct free TCP ports on 127.0.0.1, all held while they are chosen so none repeats."""
    held = [socket.socket() for _ in range(n)]
    for s in held:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


def events(path):
    """The JSON lines of a node's events.jsonl (none if it is missing; torn lines skipped)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out
