"""Free local ports for the servers tests start (never 8000: other work on this machine uses it)."""

from __future__ import annotations

import socket


def free_port(consecutive: int = 1) -> int:
    """A port p such that p .. p+consecutive-1 are all free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + consecutive > 65536:
            continue
        sockets = []
        try:
            for offset in range(consecutive):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {consecutive} consecutive free ports found")
