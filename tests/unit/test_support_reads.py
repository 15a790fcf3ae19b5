"""The tests' 200-only read: a 503/429 with Retry-After is waited out as told, anything
else fails naming its status and body (not a KeyError on a problem document)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.reads import read_json
from tests.support.servers import serve_in_thread

BUSY = {"type": "busy", "status": 503, "detail": "Try again."}


def _app() -> Starlette:
    calls = {"busy": 0}

    async def busy_once(request: Request) -> JSONResponse:
        calls["busy"] += 1
        if calls["busy"] == 1:
            return JSONResponse(BUSY, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"sync": [{"status": "sent"}]})

    async def broken(request: Request) -> JSONResponse:
        return JSONResponse({"type": "internal_error", "status": 500}, status_code=500)

    return Starlette(routes=[Route("/busy-once", busy_once), Route("/broken", broken)])


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with serve_in_thread(_app()) as url, httpx.Client(base_url=url) as client:
        yield client


def test_a_busy_answer_is_waited_out_as_its_retry_after_says(api: httpx.Client) -> None:
    started = time.monotonic()
    assert read_json(api, "/busy-once") == {"sync": [{"status": "sent"}]}
    assert time.monotonic() - started >= 1.0


def test_any_other_answer_fails_with_its_status_and_body(api: httpx.Client) -> None:
    with pytest.raises(AssertionError, match=r"GET /broken: 500 .*internal_error"):
        read_json(api, "/broken")
