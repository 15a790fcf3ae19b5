"""Schemathesis over /openapi.json, bounded for ``make test``: no request, however odd,
gets a 5xx, and every error is ``application/problem+json``.

``INVOICESYNC_FUZZ_EXAMPLES`` raises the examples per operation (default 20)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, Response
from schemathesis.core.result import Err, Ok

from tests.integration.api.conftest import ADMIN_TOKEN, new_partner

pytestmark = pytest.mark.reliability

EXAMPLES = int(os.environ.get("INVOICESYNC_FUZZ_EXAMPLES", "20"))
PROBLEM_JSON = "application/problem+json"
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def partner_key(api_url: str) -> Iterator[str]:
    with new_partner(api_url, "Fuzzing Partner") as partner:
        yield partner.headers["Authorization"].removeprefix("Bearer ")


def credentials(path: str, partner_key: str) -> dict[str, str]:
    token = ADMIN_TOKEN if path.startswith("/admin/") else partner_key
    return {"Authorization": f"Bearer {token}"}


def check_response(case: Case[Any], response: Response) -> None:
    """No 5xx; an error is problem+json. The message names the request that broke it."""
    request = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    assert response.status_code < 500, f"{response.status_code} for {request}: {response.text}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0].split(";")[0]
        assert content_type == PROBLEM_JSON, f"{content_type} for {request}: {response.text}"


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any], api_url: str, partner_key: str
) -> str | None:
    """Run one operation's examples; the first failure's message, or None."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: a failure is reported as found (shrinking ran for minutes).
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        response = case.call(base_url=api_url, headers=credentials(case.path, partner_key))
        check_response(case, response)
        STATUSES[response.status_code] += 1

    try:
        run()
    except AssertionError as failure:
        return str(failure).splitlines()[0]
    return None


def test_no_5xx_and_errors_are_problem_json(api_url: str, partner_key: str) -> None:
    # The pytest plugin's from_fixture does not work with our pytest; drive hypothesis here.
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if isinstance(r, Err)] == []  # every operation parses
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 30
    failures = [
        f"{operation.method.upper()} {operation.path}: {message}"
        for operation in operations
        if (message := fuzz_operation(operation, api_url, partner_key)) is not None
    ]
    print(f"fuzzed {len(operations)} operations; answers by status: {dict(STATUSES)}")
    assert failures == [], "\n".join(failures)
    assert STATUSES[401] < sum(STATUSES.values()) / 2  # the key was used: not all refused


def test_the_schema_is_served_to_partners(api_url: str) -> None:
    assert httpx.get(f"{api_url}/openapi.json").status_code == 200


def test_a_nul_character_is_a_422_not_a_500(api_url: str, partner_key: str) -> None:
    response = httpx.post(
        f"{api_url}/v1/clients",
        json={"name": "\x00"},
        headers={"Authorization": f"Bearer {partner_key}"},
    )
    assert response.status_code == 422, response.text


def test_a_nul_character_in_a_query_is_a_422_not_a_500(api_url: str, partner_key: str) -> None:
    response = httpx.get(
        f"{api_url}/v1/invoices",
        params={"booking_number": "\x00"},
        headers={"Authorization": f"Bearer {partner_key}"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
