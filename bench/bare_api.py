"""The references for the API accept benchmark: a bare FastAPI endpoint that inserts the
same ``documents`` row with one asyncpg statement, nothing else (no validation model, no
totals, no idempotency, no sync rows, no outbox), and the same endpoint making as many
round trips to PostgreSQL as the accept path does (``/bare/round-trips/invoices``: two
indexed reads, then the insert), which tells what the round trips alone cost on this
machine. Served like the API (uvicorn, one process): ``python -m bench.bare_api`` with
BENCH_DATABASE_URL, BENCH_PORT, BENCH_PARTNER_ID and BENCH_CLIENT_ID in the
environment."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

INSERT = """
INSERT INTO documents (id, partner_id, client_id, kind, external_id, number, status,
    issue_date, due_date, currency, customer, lines, net_total, vat_total, gross_total,
    revision, booked_at)
VALUES ($1, $2, $3, 'invoice', $4, $5, $6, $7, NULL, $8, $9::jsonb, $10::jsonb, 150.00, 31.50,
    181.50, 0, now())
RETURNING created_at
"""
# Before the insert, the accept path's other two round trips (the API key's lookup; the
# Idempotency-Key's claim with the read of the client and the number's duplicate), here as
# two indexed reads of about the same size: what a round trip costs, without our code.
CLIENT_READ = "SELECT partner_id FROM clients WHERE id = $1"
DUPLICATE_READ = (
    "SELECT id FROM documents WHERE client_id = $1 AND kind = 'invoice' AND number = $2"
)


def create_app(database_url: str, partner_id: uuid.UUID, client_id: uuid.UUID) -> FastAPI:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        # The API's SQLAlchemy pool: 5 connections plus 10 overflow.
        pool = await asyncpg.create_pool(database_url, min_size=5, max_size=15)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def insert(connection: asyncpg.Connection, body: dict[str, Any]) -> JSONResponse:
        document_id = uuid.uuid4()
        created = await connection.fetchval(
            INSERT,
            document_id,
            partner_id,
            client_id,
            body["external_id"],
            body["number"],
            body["status"],
            date.fromisoformat(body["issue_date"]),
            body["currency"],
            json.dumps(body["customer"]),
            json.dumps(body["lines"]),
        )
        return JSONResponse(
            {"id": str(document_id), "created_at": created.isoformat()}, status_code=201
        )

    @app.post("/bare/invoices")
    async def create(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        assert pool is not None
        async with pool.acquire() as connection:
            return await insert(connection, body)

    @app.post("/bare/round-trips/invoices")
    async def create_in_three(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        assert pool is not None
        async with pool.acquire() as connection:
            await connection.fetchval(CLIENT_READ, client_id)
            await connection.fetchval(DUPLICATE_READ, client_id, body["number"])
            return await insert(connection, body)

    return app


def main() -> None:
    app = create_app(
        os.environ["BENCH_DATABASE_URL"],
        uuid.UUID(os.environ["BENCH_PARTNER_ID"]),
        uuid.UUID(os.environ["BENCH_CLIENT_ID"]),
    )
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), log_level="warning")


if __name__ == "__main__":
    main()
