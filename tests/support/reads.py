"""A test's read of the API that must answer 200: anything else is shown as what it is.

Reading ``.json()["sync"]`` off any answer turns a problem document (a 503 ``busy`` or a
429 under load, a 500) into a ``KeyError`` that hides the status. Here a 429 or 503 that
says when to come back (``Retry-After``) is waited out exactly as told, a bounded number of
times; any other answer fails with its status and body."""

from __future__ import annotations

import time
from typing import Any

import httpx

from invoicesync_shared.connectors.retry_after import retry_after

# Answers that tell the caller to try again later; only these are retried.
TRY_AGAIN = frozenset({429, 503})


def read_json(
    client: httpx.Client, url: str, *, attempts: int = 5, **params: Any
) -> dict[str, Any]:
    """The body of ``GET url`` once it answers 200 (a 429/503 with Retry-After waited out,
    at most ``attempts`` times); otherwise an AssertionError naming status and body."""
    for _ in range(attempts):
        answer = client.get(url, params=params or None)
        wait = retry_after(answer) if answer.status_code in TRY_AGAIN else None
        if wait is None:
            break
        time.sleep(wait)
    assert answer.status_code == 200, f"GET {url}: {answer.status_code} {answer.text}"
    body: dict[str, Any] = answer.json()
    return body
