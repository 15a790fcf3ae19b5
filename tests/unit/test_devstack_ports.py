"""`make run`'s ports come from one setting, every process agrees on them, and a port
another process holds stops the start at once, naming it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from invoicesync_devstack import ports as stack_ports
from invoicesync_devstack.ports import PortTaken, StackPorts


def test_one_base_moves_every_port_and_url() -> None:
    env = StackPorts.from_environment({"INVOICESYNC_PORT_BASE": "9000"}).environment()

    assert env["INVOICESYNC_API_PORT"] == "9000"
    assert env["INVOICESYNC_SANDBOX_PORT"] == "9010"
    assert env["INVOICESYNC_SANDBOX_URL"] == "http://127.0.0.1:9010"
    assert env["INVOICESYNC_CONNECTOR_EXACT_PORT"] == "9021"
    assert env["INVOICESYNC_CONNECTOR_EXACT_URL"] == "http://127.0.0.1:9021"
    assert env["INVOICESYNC_CONNECTOR_YUKI_URL"] == "http://127.0.0.1:9023"
    assert env["INVOICESYNC_BROKER_PORT"] == "10092"


def test_defaults_and_a_port_set_on_its_own() -> None:
    ports = StackPorts.from_environment({"INVOICESYNC_CONNECTOR_LEXWARE_PORT": "7777"})

    assert ports["INVOICESYNC_API_PORT"] == 8000
    assert ports["INVOICESYNC_BROKER_PORT"] == 9092
    assert ports.environment()["INVOICESYNC_CONNECTOR_LEXWARE_URL"] == "http://127.0.0.1:7777"


def test_a_taken_port_is_named_with_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = StackPorts.from_environment({"INVOICESYNC_CONNECTOR_YUKI_PORT": str(port)})
        free = StackPorts.from_environment(
            {name: str(stack_ports.free_port()) for name in ports.ports}
        )

        with pytest.raises(PortTaken, match=f"port {port} for the Yuki connector"):
            ports.ensure_free()
        free.ensure_free()  # nothing raised


@pytest.mark.parametrize("kernel_range", ["32768\t60999\n", "1024 60000\n"])
def test_a_free_port_lies_above_the_range_the_kernel_gives_outgoing_connections(
    kernel_range: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client socket of another test worker can take any port of that range between
    the draw and the server's bind; one above it, only another explicit bind can."""
    (tmp_path / "range").write_text(kernel_range)
    monkeypatch.setattr(stack_ports, "EPHEMERAL_RANGE", tmp_path / "range")
    high = int(kernel_range.split()[1])

    drawn = {stack_ports.free_port() for _ in range(20)}

    assert all(high < port <= 65535 for port in drawn)
    for port in drawn:  # and nothing listens there
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_free_port_is_the_kernels_when_nothing_lies_above_its_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "range").write_text("1024 65535\n")
    monkeypatch.setattr(stack_ports, "EPHEMERAL_RANGE", tmp_path / "range")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", stack_ports.free_port()))


def test_processes_side_by_side_draw_from_their_own_shares_and_never_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two test workers each draw from their share of the space above the kernel's range,
    so neither draws a port the other has drawn but not bound yet; and a process never
    hands out a port twice (a stack draws all its ports before its processes bind them)."""
    (tmp_path / "range").write_text("32768 60999\n")
    monkeypatch.setattr(stack_ports, "EPHEMERAL_RANGE", tmp_path / "range")
    monkeypatch.setattr(stack_ports, "_handed_out", set())
    per_worker = (65535 - 61000 + 1) // 2

    monkeypatch.setenv(stack_ports.SHARE, "0/2")
    first = [stack_ports.free_port() for _ in range(200)]
    monkeypatch.setenv(stack_ports.SHARE, "1/2")
    second = [stack_ports.free_port() for _ in range(200)]

    assert all(61000 <= port < 61000 + per_worker for port in first)
    assert all(61000 + per_worker <= port < 61000 + 2 * per_worker for port in second)
    assert len(set(first)) == len(first) and len(set(second)) == len(second)
