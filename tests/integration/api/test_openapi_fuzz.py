"""Schemathesis over /openapi.json, bounded for ``make test``: no request, however odd,
gets a 5xx, and every error is ``application/problem+json``.

``INVOICESYNC_FUZZ_EXAMPLES`` raises the examples per operation (default 20)."""

from __future__ import annotations

import copy
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

from tests.integration.api.conftest import ADMIN_TOKEN, invoice, new_partner

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


# The edge cases of issue 19.3, driven through schemathesis from the published schema: one
# value at a time is put into an otherwise valid document, so any refusal is about it.
EDGE_VALUES: dict[str, list[Any]] = {
    "currency": ["ZZZ", "XXX", "eur", "", "EURO", "€", "E1R"],
    "issue_date": ["0001-01-01", "1999-12-31", "9999-12-31", "2026-02-30", ""],
    "due_date": ["0001-01-01", "1999-12-31", "9999-12-31", "2026-13-01"],
    "lines.0.unit_price": [
        "99999999999999.9999",
        "-99999999999999.9999",
        "1" + "0" * 30,
        "1e400",
        "NaN",
        "Infinity",
        "0.00001",
        12.5,
    ],
    "lines.0.quantity": ["99999999999999", "1e-30", "NaN", "-Infinity", "0.000001"],
    "lines.0.vat_rate": ["-1", "100.5", "NaN", "1e3"],
    "customer.name": ["", " ", "\x07bell", "a" * 1000],
}
# Edges that every system takes, so the door must too.
TAKEN_VALUES: dict[str, list[Any]] = {
    "issue_date": ["2000-01-01"],
    "lines.0.unit_price": ["-0"],
    "lines.0.quantity": ["0"],
    "lines.0.vat_rate": ["7.7"],
}
CREATES = ["/v1/invoices", "/v1/credit-notes"]
PATCHABLE = ("due_date", "lines.0.", "customer.")


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``value`` at the dotted ``path`` (digits index lists)."""
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return changed


def refusal_problem(response: Response, field: str, *, taken: bool) -> str | None:
    """What is wrong with this answer to one edge value at ``field``, or None: no 5xx; a
    value every system takes is taken; any other is refused with a problem+json 422 naming
    the field (or the line or document it makes impossible)."""
    if response.status_code >= 500:
        return f"{response.status_code} {response.text}"
    if response.status_code < 400:
        return None if taken else f"{response.status_code}: taken"
    content_type = response.headers.get("content-type", [""])[0].split(";")[0]
    if content_type != PROBLEM_JSON:
        return content_type
    fields = [error.get("field", "") for error in response.json().get("errors", [])]
    if response.status_code == 422 and any(f == field or field.startswith(f"{f}.") for f in fields):
        return None
    return f"{response.status_code} naming {fields}"


def test_edge_values_are_refused_naming_the_field_never_a_5xx(
    api_url: str, partner_key: str
) -> None:
    headers = {"Authorization": f"Bearer {partner_key}"}
    client = httpx.post(
        f"{api_url}/v1/clients", json={"name": "Edge Cases BV", "country": "NL"}, headers=headers
    )
    assert client.status_code == 201, client.text
    client_id = client.json()["id"]
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    edited = httpx.post(
        f"{api_url}/v1/invoices", json=invoice(client_id, "EDGE-P"), headers=headers
    )
    assert edited.status_code == 201, edited.text
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    edges = [(f, v, False) for f, vs in EDGE_VALUES.items() for v in vs]
    edges += [(f, v, True) for f, vs in TAKEN_VALUES.items() for v in vs]
    for number, (field, value, taken) in enumerate(edges):
        body = invoice(client_id, number=f"EDGE-{field}-{number}")
        cases = [
            schema[path]["POST"].Case(
                body=with_value(body, field, value), media_type="application/json"
            )
            for path in CREATES
        ]
        if field.startswith(PATCHABLE):
            patch = {key: body[key] for key in ("due_date", "lines", "customer")}
            cases.append(
                schema["/v1/invoices/{document_id}"]["PATCH"].Case(
                    path_parameters={"document_id": edited.json()["id"]},
                    body=with_value(patch, field, value),
                    media_type="application/json",
                )
            )
        for case in cases:
            response = case.call(base_url=api_url, headers=headers)
            statuses[response.status_code] += 1
            if (wrong := refusal_problem(response, field, taken=taken)) is not None:
                problems.append(f"{case.method} {case.path} {field}={value!r}: {wrong}")
    print(f"edge cases by status: {dict(statuses)}")
    assert problems == [], "\n".join(problems)
