"""``invoicesync-dev`` (`make run`): the whole system on its embedded default.

Embedded PostgreSQL (data in .run/pg) unless INVOICESYNC_DATABASE_URL is set, the wheel
broker unless INVOICESYNC_KAFKA_BOOTSTRAP is set, migrations, topics, then the sandbox,
the API and the three connectors as separate processes under one supervisor (honcho).
Ctrl-C stops them all.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

import httpx
from honcho.manager import Manager
from pydantic import SecretStr

from invoicesync_devstack import broker, postgres
from invoicesync_devstack.ports import StackPorts
from invoicesync_shared.bus.admin import ensure_topics
from invoicesync_shared.crypto import generate_key

RUN_DIR = Path(os.environ.get("INVOICESYNC_RUN_DIR", ".run")).resolve()
SERVICES = {
    "sandbox": "invoicesync-sandbox",
    "api": "invoicesync-api",
    "exact": "connector-exact",
    "lexware": "connector-lexware",
    "yuki": "connector-yuki",
}


def _secrets() -> dict[str, str]:
    """Admin token and encryption key, generated once and kept in .run/ (mode 600)."""
    path = RUN_DIR / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values = {"admin_token": "adm_" + secrets.token_urlsafe(24), "encryption_key": generate_key()}
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _database_url() -> str:
    if url := os.environ.get("INVOICESYNC_DATABASE_URL"):
        return url
    server = postgres.embedded_server(RUN_DIR / "pg")
    return asyncio.run(postgres.create_database(server.get_uri(), "invoicesync"))


def _environment(database_url: str, bootstrap: str, ports: StackPorts) -> dict[str, str]:
    stored = _secrets()
    env = ports.environment() | dict(os.environ)  # a URL set on its own still wins
    api_port = env["INVOICESYNC_API_PORT"]
    env.setdefault(
        "INVOICESYNC_OAUTH_REDIRECT_URI", f"http://127.0.0.1:{api_port}/v1/oauth/callback"
    )
    env.setdefault("INVOICESYNC_SANDBOX_AUTO_APPROVE", "1")
    # Lexware's event callbacks reach the API; the sandbox signs them with its own key.
    env.setdefault(
        "INVOICESYNC_LEXWARE_CALLBACK_URL", f"http://127.0.0.1:{api_port}/v1/callbacks/lexware"
    )
    env.setdefault(
        "INVOICESYNC_LEXWARE_WEBHOOK_PUBLIC_KEY_URL",
        f"{env['INVOICESYNC_SANDBOX_URL']}/_sandbox/lexware/public-key",
    )
    # Date decisions (nightly hours, token age, budgets) follow the sandbox's clock, so
    # POST /_sandbox/clock/advance moves the whole stack ahead; never in production.
    env.setdefault("INVOICESYNC_CLOCK_URL", f"{env['INVOICESYNC_SANDBOX_URL']}/_sandbox/clock")
    # Locally, webhook receivers on loopback are allowed (API.md); never in production.
    env.setdefault("INVOICESYNC_WEBHOOK_ALLOW_LOOPBACK_URLS", "1")

    env.setdefault("INVOICESYNC_ADMIN_TOKEN", stored["admin_token"])
    env.setdefault("INVOICESYNC_ENCRYPTION_KEYS", stored["encryption_key"])
    env.setdefault("INVOICESYNC_LOG_JSON", "0")
    env["INVOICESYNC_DATABASE_URL"] = database_url
    env["INVOICESYNC_KAFKA_BOOTSTRAP"] = bootstrap
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stack_ready(api: str) -> bool:
    """The API serves, and every connector and the broker answer it (the API's own
    readiness depends on its database only)."""
    if httpx.get(f"{api}/readyz", timeout=2).status_code != 200:
        return False
    dependencies = httpx.get(f"{api}/healthz/dependencies", timeout=5).json()
    return all(state == "up" for state in dependencies.values())


def _announce_when_ready(env: dict[str, str], manager: Manager) -> None:
    api = f"http://127.0.0.1:{env['INVOICESYNC_API_PORT']}"
    sandbox = env["INVOICESYNC_SANDBOX_URL"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and manager.returncode is None:
        try:
            if _stack_ready(api):
                print(
                    "\n  invoicesync is ready\n"
                    f"  API:         {api}   (docs: {api}/docs)\n"
                    f"  sandbox:     {sandbox}   (demo: {sandbox}/_sandbox/demo)\n"
                    f"  admin token: {env['INVOICESYNC_ADMIN_TOKEN']}\n"
                    "  Ctrl-C stops everything.\n",
                    flush=True,
                )
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print("invoicesync did not become ready within 180 s; see the logs above", file=sys.stderr)


def main() -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    broker_process = None
    bootstrap = os.environ.get("INVOICESYNC_KAFKA_BOOTSTRAP")
    ports = StackPorts.from_environment(os.environ)
    ports.ensure_free(skip=frozenset({"INVOICESYNC_BROKER_PORT"}) if bootstrap else frozenset())
    if not bootstrap:
        port = ports["INVOICESYNC_BROKER_PORT"]
        broker_process = broker.start_broker(port, RUN_DIR / "broker.log")
        bootstrap = f"127.0.0.1:{port}"
    try:
        env = _environment(_database_url(), bootstrap, ports)
        from invoicesync_api.migrate import upgrade

        upgrade(SecretStr(env["INVOICESYNC_DATABASE_URL"]))
        partitions = int(env.get("INVOICESYNC_TOPIC_PARTITIONS", "4"))
        asyncio.run(ensure_topics(bootstrap, partitions=partitions))
        print(f"database migrated, topics ready ({time.monotonic() - started:.1f} s)", flush=True)
        manager = Manager()
        for name, command in SERVICES.items():
            manager.add_process(name, command, env=env)
        threading.Thread(target=_announce_when_ready, args=(env, manager), daemon=True).start()
        manager.loop()
        sys.exit(manager.returncode)
    finally:
        if broker_process is not None:
            broker_process.terminate()
            broker_process.wait(timeout=10)
