"""Issue 18: a new user's first hour. The README's walk-through block, extracted as written
and run with bash, books an invoice in Exact on a stack moved by ``INVOICESYNC_PORT_BASE``
while something else holds the default ports 8000 and 8010."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import secrets
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from invoicesync_devstack.ports import PortTaken, StackPorts
from tests.support.processes import Stack, running_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Walk-through"
DEFAULT_PORTS = (8000, 8010)  # the default API and sandbox ports a user's other stack holds


def walkthrough_block(readme: str) -> str:
    """The first ```bash block after the walk-through heading, as a user copies it."""
    start = readme.find(f"\n{HEADING}")
    assert start >= 0, f"README.md has no {HEADING!r} section any more"
    block = re.search(r"^```bash\n(.*?)^```", readme[start:], re.DOTALL | re.MULTILINE)
    assert block, f"README.md's {HEADING!r} section has no ```bash block any more"
    return block.group(1)


def free_port_base() -> int:
    """A base whose service ports are all free, below the kernel's range for outgoing
    connections, apart from the ports free_port() and the other tests' stacks draw above
    it (the broker's port is not used: the test run has its own)."""
    for _ in range(50):
        base = random.randrange(20000, 32000, 100)
        try:
            StackPorts.from_environment({"INVOICESYNC_PORT_BASE": str(base)}).ensure_free(
                skip=frozenset({"INVOICESYNC_BROKER_PORT"})
            )
        except PortTaken:
            continue
        return base
    raise RuntimeError("no free port base found")


class AnotherStack(BaseHTTPRequestHandler):
    """Answers every request with JSON that is not ours, as a foreign service would."""

    def _answer(self) -> None:
        body = b'{"service": "another stack"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test's output is the walk-through's."""


@contextmanager
def another_stack_on_default_ports() -> Iterator[None]:
    """Something listens on 8000 and 8010 while the block runs: our dummy where the port is
    free, else whatever holds it already (another stack, as on a user's machine)."""
    with ExitStack() as servers:
        for port in DEFAULT_PORTS:
            try:
                server = ThreadingHTTPServer(("127.0.0.1", port), AnotherStack)
            except OSError:
                continue  # taken already: that stands for the other stack
            servers.callback(server.server_close)
            servers.callback(server.shutdown)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        yield


@pytest.fixture(scope="module")
def moved_stack(
    database_url: str,
    kafka_bootstrap: str,
    encryption_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, int]]:
    """A stack on the ports a user's ``INVOICESYNC_PORT_BASE`` implies, with an admin token
    of its own (so the block can only succeed against this stack)."""
    base = free_port_base()
    with running_stack(
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        encryption_key=encryption_key,
        log_dir=Path(tmp_path_factory.mktemp("logs")),
        connectors=("exact",),
        extra_env={"INVOICESYNC_ADMIN_TOKEN": "adm_" + secrets.token_urlsafe(16)},
        port_base=base,
    ) as stack:
        yield stack, base


def test_the_readme_walkthrough_books_an_invoice_on_a_moved_stack(
    moved_stack: tuple[Stack, int], tmp_path: Path
) -> None:
    stack, base = moved_stack
    assert stack.api_url == f"http://127.0.0.1:{base}"
    assert stack.sandbox_url == f"http://127.0.0.1:{base + 10}"
    script = tmp_path / "walkthrough.sh"
    script.write_text(walkthrough_block((ROOT / "README.md").read_text()))
    # What `make run` leaves in .run/ for the second terminal.
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run" / "secrets.json").write_text(json.dumps({"admin_token": stack.admin_token}))
    user_env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICESYNC_")}
    user_env["INVOICESYNC_PORT_BASE"] = str(base)

    with another_stack_on_default_ports():
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", str(script)],
            cwd=tmp_path,
            env=user_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    print(ran.stdout)
    assert ran.returncode == 0, f"the walk-through failed:\n{ran.stdout}\n{ran.stderr}"

    status, sync_line, booking_number = ran.stdout.strip().splitlines()
    assert status == "active"
    sync = ast.literal_eval(sync_line)  # the block prints it as Python shows a dict
    assert sync["status"] == "booked", sync
    assert booking_number not in ("", "None")
    assert sync["booking_number"] == booking_number

    # The sandbox's own view of the demo division shows the same entry.
    division = httpx.get(f"{stack.sandbox_url}/_sandbox/demo").json()["exact"]["division"]
    entries = httpx.get(f"{stack.sandbox_url}/_sandbox/exact/divisions/{division}").json()[
        "entries"
    ]
    assert [(str(e["entry_number"]), e["entry_id"]) for e in entries] == [
        (booking_number, sync["remote_id"])
    ]
