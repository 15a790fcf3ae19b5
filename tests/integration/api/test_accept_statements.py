"""What one POST /v1/invoices costs the database, counted round trip by round trip on the
API's own engine: every statement it sends, and a transaction's BEGIN and its end (an
autocommitted statement has neither). The accept path is the API's hot path and its cost
is round trips: a statement more per POST fails here, not only as a slower ``make bench``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from tests.integration.api.conftest import (
    ADMIN_TOKEN,
    HIGH_LIMITS,
    add_integration,
    invoice,
    new_partner,
)
from tests.support.servers import serve_in_thread

# The key's lookup with its rate limit (one statement), then the accept path: the key's
# claim with the read of the client, its integrations and the number's duplicate (one
# statement), and the write of the document, its sync rows, its event and the answer (one).
POST_STATEMENTS = 3
# A replay: the lookup, and the claim that finds the key taken, with the answer stored
# under it (read by the same statement).
REPLAY_STATEMENTS = 2


class Statements:
    """The round trips the app's engine made, in order (each statement, shortened)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.sent.append(" ".join(sql.split())[:120])

    def begin(self, conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.sent += ["BEGIN", "COMMIT or ROLLBACK"]

    def during(self, request: Any) -> list[str]:
        start = len(self.sent)
        request()
        return self.sent[start:]


@pytest.fixture(scope="module")
def counted(database_url: str, encryption_key: str) -> Iterator[tuple[str, Statements]]:
    """An app of its own, its engine's round trips counted."""
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        connector_exact_url="http://127.0.0.1:9",
        connector_lexware_url="http://127.0.0.1:9",
        connector_yuki_url="http://127.0.0.1:9",
        **HIGH_LIMITS,  # limits on: the bucket is part of the cost
    )
    app = create_app(settings)
    statements = Statements()

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", statements.statement)
    event.listen(app.state.engine.sync_engine, "begin", statements.begin)
    with serve_in_thread(app) as url:
        yield url, statements


async def test_a_post_costs_three_statements(
    counted: tuple[str, Statements], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    url, statements = counted
    with new_partner(url) as partner:
        created = partner.post("/v1/clients", json={"name": "Bakkerij", "country": "NL"})
        client_id = created.json()["id"]
        await add_integration(sessionmaker, client_id, system="yuki")
        run = uuid.uuid4().hex[:6]

        def post(number: str, key: str | None = None) -> httpx.Response:
            headers = {"Idempotency-Key": key} if key else {}
            body = invoice(client_id, number=f"{run}-{number}")
            response = partner.post("/v1/invoices", json=body, headers=headers)
            assert response.status_code == 201, response.text
            return response

        # Another partner's request under the same key, first: a key is looked up as the
        # partner's own, so the replay below reads one stored answer, the right one.
        with new_partner(url, "Other") as other:
            theirs = other.post("/v1/clients", json={"name": "Other"}).json()["id"]
            their_body = invoice(theirs, number=f"{run}-keyed")
            made = other.post("/v1/invoices", json=their_body, headers={"Idempotency-Key": "keyed"})
            assert made.status_code == 201, made.text
        # Warm: the key's first use is noted (once a minute), statements get prepared.
        post("warm-1", "warm-1")
        post("warm-2")
        keyed = statements.during(lambda: post("keyed", "keyed"))
        unkeyed = statements.during(lambda: post("unkeyed"))
        replay = statements.during(lambda: post("keyed", "keyed"))

    counts = (len(keyed), len(unkeyed), len(replay))
    expected = (POST_STATEMENTS, POST_STATEMENTS, REPLAY_STATEMENTS)
    assert counts == expected, (keyed, unkeyed, replay)
