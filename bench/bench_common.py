"""Helpers the Python benchmarks share (imported from the scripts' own directory)."""
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
