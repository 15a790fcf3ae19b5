"""A wheel broker the test owns: killed and started again on the same port, as a crashed
broker comes back. Its storage is memory only, so a restart loses every topic and offset;
``restart`` recreates the topics, as the deploy job would."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from invoicesync_devstack import broker
from invoicesync_devstack.ports import free_port
from invoicesync_shared.bus.admin import ensure_topics


class ControlledBroker:
    def __init__(self, log_file: Path, partitions: int = 4) -> None:
        self.port = free_port()
        self.log_file = log_file
        self.partitions = partitions
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process = broker.start_broker(self.port, self.log_file)
        asyncio.run(ensure_topics(self.bootstrap, partitions=self.partitions))

    def kill(self) -> None:
        """kill -9: no goodbye to clients, every in-memory message gone."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)
            self._process = None

    def restart(self) -> None:
        self.kill()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._process = None
