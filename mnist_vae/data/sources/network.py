"""Fail fast when a download host cannot be reached.

TFDS retries an unreachable host for minutes; we ask first, with a hard bound.
The DNS lookup runs in a daemon thread because ``getaddrinfo`` ignores socket
timeouts.
"""

from __future__ import annotations

import socket
import threading


def reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
