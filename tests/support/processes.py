"""Starting the real service processes (as `make run` does) for e2e and chaos tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from invoicesync_devstack.ports import LAYOUT, StackPorts
from tests.support.servers import free_port


@dataclass
class Stack:
    """Ports and environment of one running system, and its processes by name."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['INVOICESYNC_API_PORT']}"

    @property
    def sandbox_url(self) -> str:
        return self.env["INVOICESYNC_SANDBOX_URL"]

    @property
    def admin_token(self) -> str:
        return self.env["INVOICESYNC_ADMIN_TOKEN"]

    def start(
        self,
        name: str,
        command: str | list[str],
        health_url: str,
        env: dict[str, str] | None = None,
        health_timeout: float = 60,
    ) -> None:
        """Start ``command`` (a console script, or an argv list) with the stack's environment
        plus ``env``, and wait until ``health_url`` answers 200."""
        self.launch(name, command, env)
        wait_healthy(health_url, self.processes[name], self.log_dir / f"{name}.log", health_timeout)

    def start_together(self, commands: dict[str, tuple[str | list[str], str]]) -> None:
        """Start each named ``(command, health_url)`` at once, then wait for all."""
        for name, (command, _) in commands.items():
            self.launch(name, command)
        for name, (_, health_url) in commands.items():
            wait_healthy(health_url, self.processes[name], self.log_dir / f"{name}.log")

    def launch(
        self, name: str, command: str | list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` without waiting for it (several processes start at once)."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open by the child)
        self.processes[name] = subprocess.Popen(
            [command] if isinstance(command, str) else command,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.processes[name]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


CONNECTORS = {"exact": "connector-exact", "lexware": "connector-lexware", "yuki": "connector-yuki"}
STACK_SETTLE_SECONDS = "3"  # the connectors' settle time in test stacks (30-60 s in production)


def service_ports(port_base: int | None = None) -> dict[str, int]:
    """Every service port of one stack but the broker's: free ones, or those a port base
    implies (the same derivation as `make run`'s, so a test can move a stack as a user does)."""
    names = [name for name in LAYOUT if name != "INVOICESYNC_BROKER_PORT"]
    if port_base is None:
        return {name: free_port() for name in names}
    ports = StackPorts.from_environment({"INVOICESYNC_PORT_BASE": str(port_base)})
    return {name: ports[name] for name in names}


def stack_env(
    *,
    database_url: str,
    bootstrap: str,
    encryption_key: str,
    extra_env: dict[str, str] | None = None,
    port_base: int | None = None,
    follow_sandbox_clock: bool = False,
) -> dict[str, str]:
    """The environment every process of one stack shares: fresh ports each call, or the
    ports ``INVOICESYNC_PORT_BASE=port_base`` gives `make run` (the broker stays the
    test run's own). ``follow_sandbox_clock``: date decisions of every service follow the
    sandbox's clock, which ``POST /_sandbox/clock/advance`` moves."""
    ports = service_ports(port_base)
    api_port, sandbox_port = ports["INVOICESYNC_API_PORT"], ports["INVOICESYNC_SANDBOX_PORT"]
    env = {
        **os.environ,
        "INVOICESYNC_DATABASE_URL": database_url,
        "INVOICESYNC_KAFKA_BOOTSTRAP": bootstrap,
        "INVOICESYNC_ENCRYPTION_KEYS": encryption_key,
        "INVOICESYNC_ADMIN_TOKEN": "adm_test_token",
        "INVOICESYNC_API_PORT": str(api_port),
        "INVOICESYNC_API_METRICS_PORT": str(ports["INVOICESYNC_API_METRICS_PORT"]),
        "INVOICESYNC_SANDBOX_PORT": str(sandbox_port),
        "INVOICESYNC_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "INVOICESYNC_OAUTH_REDIRECT_URI": f"http://127.0.0.1:{api_port}/v1/oauth/callback",
        "INVOICESYNC_SANDBOX_AUTO_APPROVE": "1",
        "INVOICESYNC_LEXWARE_CALLBACK_URL": f"http://127.0.0.1:{api_port}/v1/callbacks/lexware",
        "INVOICESYNC_LEXWARE_WEBHOOK_PUBLIC_KEY_URL": (
            f"http://127.0.0.1:{sandbox_port}/_sandbox/lexware/public-key"
        ),
        "INVOICESYNC_WEBHOOK_ALLOW_LOOPBACK_URLS": "1",
        "INVOICESYNC_SANDBOX_FAULT_HANG_SECONDS": "4",
        # The embedded broker holds each group join for half the session timeout: 5 s, not
        # 15, per connector start; a killed replica's partitions move on after 10 s.
        "INVOICESYNC_KAFKA_SESSION_TIMEOUT_SECONDS": "10",
        "INVOICESYNC_LOG_JSON": "1",
        "PYTHONUNBUFFERED": "1",
        # Stacks fire bursts from one key and one address (chaos, soak, bench): the API's
        # limits stay on, out of their reach (test_rate_limits checks them at their size).
        "INVOICESYNC_RATE_LIMIT_PER_MINUTE": "10000000",
        "INVOICESYNC_RATE_LIMIT_BURST": "1000000",
        "INVOICESYNC_AUTH_FAILURES_PER_MINUTE": "10000000",
        "INVOICESYNC_AUTH_FAILURES_BURST": "1000000",
    }
    if follow_sandbox_clock:
        env["INVOICESYNC_CLOCK_URL"] = f"http://127.0.0.1:{sandbox_port}/_sandbox/clock"
    for system in CONNECTORS:
        # Settle an in-doubt write this long before looking it up (and as long again before
        # pushing it again): drop_response_visible_late faults of a few seconds are found.
        env[f"INVOICESYNC_{system.upper()}_SETTLE_SECONDS"] = STACK_SETTLE_SECONDS
        port = ports[f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"]
        env[f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"] = str(port)
        env[f"INVOICESYNC_CONNECTOR_{system.upper()}_URL"] = f"http://127.0.0.1:{port}"
    env.update(extra_env or {})
    return env


@contextmanager
def running_stack(
    *,
    database_url: str,
    bootstrap: str,
    encryption_key: str,
    log_dir: Path,
    connectors: tuple[str, ...] = ("exact", "lexware", "yuki"),
    extra_env: dict[str, str] | None = None,
    sandbox_command: str | list[str] = "invoicesync-sandbox",
    port_base: int | None = None,
    follow_sandbox_clock: bool = False,
) -> Iterator[Stack]:
    env = stack_env(
        database_url=database_url,
        bootstrap=bootstrap,
        encryption_key=encryption_key,
        extra_env=extra_env,
        port_base=port_base,
        follow_sandbox_clock=follow_sandbox_clock,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(env=env, log_dir=log_dir)
    try:
        stack.start("sandbox", sandbox_command, f"{stack.sandbox_url}/healthz")
        # Then the rest side by side (a connector reads the sandbox's WSDL as it starts).
        services: dict[str, tuple[str | list[str], str]] = {
            "api": ("invoicesync-api", f"{stack.api_url}/healthz")
        }
        for system in connectors:
            port = env[f"INVOICESYNC_CONNECTOR_{system.upper()}_PORT"]
            services[system] = (CONNECTORS[system], f"http://127.0.0.1:{port}/readyz")
        stack.start_together(services)
        yield stack
    finally:
        stack.stop_all()
