"""The request head has limits, and going past them is answered like every other error
(problem+json), by our middleware or, far past them, by the server's parser; /metrics is
not served on the public port."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from invoicesync_api.app import create_app
from invoicesync_api.http_limits import ProblemHttpProtocol
from invoicesync_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def served_api(database_url: str, encryption_key: str) -> Iterator[str]:
    """The API with the HTTP protocol its entry point uses."""
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
    )
    with serve_in_thread(create_app(settings), http=ProblemHttpProtocol) as url:
        yield url


def test_a_long_url_is_414_problem(served_api: str) -> None:
    response = httpx.get(f"{served_api}/v1/invoices", params={"number": "x" * 9000})

    assert response.status_code == 414
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "uri_too_long"


def test_too_many_header_fields_is_431_problem(served_api: str) -> None:
    headers = {f"x-field-{n}": "v" for n in range(150)}
    response = httpx.get(f"{served_api}/healthz", headers=headers)

    assert response.status_code == 431
    assert response.json()["code"] == "request_header_fields_too_large"
    assert httpx.get(f"{served_api}/healthz", headers=dict(list(headers.items())[:50])).is_success


def test_a_head_the_server_cannot_parse_is_a_problem_too(served_api: str) -> None:
    address = urlsplit(served_api)
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(f"GET /v1/invoices?q={'a' * 300_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["code"] == "bad_request"


def test_metrics_are_not_on_the_public_port(served_api: str) -> None:
    assert httpx.get(f"{served_api}/metrics").status_code == 404
