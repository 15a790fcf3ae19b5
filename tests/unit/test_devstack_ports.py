"""`make run`'s ports come from one setting, every process agrees on them, and a port
another process holds stops the start at once, naming it."""

from __future__ import annotations

import socket

import pytest

from invoicesync_devstack.ports import LAYOUT, PortTaken, StackPorts


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
        free = StackPorts.from_environment({name: str(_free()) for name in ports.ports})

        with pytest.raises(PortTaken, match=f"port {port} for the Yuki connector"):
            ports.ensure_free()
        free.ensure_free()  # nothing raised


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
