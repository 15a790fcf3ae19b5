"""The ports of one dev stack, derived from one setting so that every process agrees.

``INVOICESYNC_PORT_BASE`` (default 8000) places the whole stack: the API on the base (its
/metrics on base + 1), the sandbox on base + 10, the connectors on base + 21..23 and the
broker on base + 1092 (9092 by default). A port set on its own (``INVOICESYNC_API_PORT``…)
still wins, and the URLs the processes use to reach each other follow the ports, so a
moved stack never talks to another stack's processes.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE = 8000
# Setting, offset from the base, and what listens there (for the error message).
LAYOUT = {
    "INVOICESYNC_API_PORT": (0, "the API"),
    "INVOICESYNC_API_METRICS_PORT": (1, "the API's /metrics"),
    "INVOICESYNC_SANDBOX_PORT": (10, "the sandbox"),
    "INVOICESYNC_CONNECTOR_EXACT_PORT": (21, "the Exact connector"),
    "INVOICESYNC_CONNECTOR_LEXWARE_PORT": (22, "the Lexware connector"),
    "INVOICESYNC_CONNECTOR_YUKI_PORT": (23, "the Yuki connector"),
    "INVOICESYNC_BROKER_PORT": (1092, "the Kafka-protocol broker"),
}


# Linux's range of ports handed to outgoing connections (and to a bind to port 0), and its
# default top when /proc does not say.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_TOP = 60999
# "k/n": this process draws from the k-th of n equal shares of the space above that range,
# so processes drawing side by side (test workers) never draw the same port.
SHARE = "INVOICESYNC_FREE_PORT_SHARE"
_handed_out: set[int] = set()  # by this process: drawn twice before a bind, or freed by
# a process of its stack that was stopped and will bind it again


def free_port() -> int:
    """A port nothing listens on, drawn above the kernel's range for outgoing connections.

    A port the kernel hands out (a bind to port 0) lies in that range, so any client socket
    of the machine may take it before the server that asked for it binds: test workers
    side by side, each opening connections, made that happen. Above the range only
    another explicit bind competes: each drawing process keeps to its own share
    (``INVOICESYNC_FREE_PORT_SHARE``) and never hands out a port twice. Falls back to the
    kernel's choice where the space above is too small."""
    try:
        high = int(EPHEMERAL_RANGE.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        high = DEFAULT_EPHEMERAL_TOP
    low, top = _share(high + 1, 65535, os.environ.get(SHARE, ""))
    for _ in range(100 if top - low > 100 else 0):
        port = random.randint(low, top)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _share(low: int, top: int, share: str) -> tuple[int, int]:
    """The ports of share "k/n" of ``low``..``top`` (all of them without a share)."""
    index, _, count = share.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        return low, top
    size = (top - low + 1) // int(count)
    return low + int(index) * size, low + (int(index) + 1) * size - 1


class PortTaken(SystemExit):
    """A port of the stack is in use: said at once, with the way out."""


@dataclass(frozen=True)
class StackPorts:
    ports: dict[str, int]

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> StackPorts:
        base = int(env.get("INVOICESYNC_PORT_BASE", DEFAULT_BASE))
        return cls(
            {name: int(env.get(name, base + offset)) for name, (offset, _) in LAYOUT.items()}
        )

    def __getitem__(self, name: str) -> int:
        return self.ports[name]

    def environment(self) -> dict[str, str]:
        """Every port, and every URL one process uses to reach another."""
        env = {name: str(port) for name, port in self.ports.items()}
        env["INVOICESYNC_SANDBOX_URL"] = f"http://127.0.0.1:{self['INVOICESYNC_SANDBOX_PORT']}"
        for system in ("EXACT", "LEXWARE", "YUKI"):
            port = self[f"INVOICESYNC_CONNECTOR_{system}_PORT"]
            env[f"INVOICESYNC_CONNECTOR_{system}_URL"] = f"http://127.0.0.1:{port}"
        return env

    def ensure_free(self, *, skip: frozenset[str] = frozenset()) -> None:
        """Refuse to start on a port another process holds, naming it and the setting."""
        for name, port in self.ports.items():
            if name in skip:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise PortTaken(
                        f"port {port} for {LAYOUT[name][1]} ({name}) is already in use, "
                        "perhaps by another invoicesync stack; move the whole stack with "
                        "INVOICESYNC_PORT_BASE (e.g. INVOICESYNC_PORT_BASE=9000 make run)"
                    ) from None
