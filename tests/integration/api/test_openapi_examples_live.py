"""Every example in /openapi.json, sent to the running API as schemathesis builds it from
the document: no 5xx, errors are problem+json, and none is refused by request validation
(an example a caller copies must be a request the API takes). The fuzz test does not send
them: its strategies carry no explicit examples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import Case
from schemathesis.core.result import Ok

from tests.integration.api.conftest import new_partner
from tests.integration.api.test_openapi_fuzz import check_response, credentials


@pytest.fixture(scope="module")
def partner_key(api_url: str) -> Iterator[str]:
    with new_partner(api_url, "Examples Partner") as partner:
        yield partner.headers["Authorization"].removeprefix("Bearer ")


def _send(
    strategy: SearchStrategy[Case[Any]], api_url: str, partner_key: str, codes: Counter[str]
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=1,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        response = case.call(base_url=api_url, headers=credentials(case.path, partner_key))
        check_response(case, response)
        code = response.json().get("code", "") if response.status_code >= 400 else ""
        request = f"{case.method} {case.formatted_path} body={case.body!r}"
        assert code != "validation_failed", f"example refused: {request}: {response.text}"
        codes[f"{response.status_code} {code}".strip()] += 1

    run()


def test_documented_examples_are_taken_and_never_answer_5xx(api_url: str, partner_key: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    codes: Counter[str] = Counter()
    failures = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        for strategy in operation.get_strategies_from_examples():
            try:
                _send(strategy, api_url, partner_key, codes)
            except AssertionError as failure:
                failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    print(f"sent {sum(codes.values())} documented examples; answers: {dict(codes)}")
    assert failures == [], "\n".join(failures)
    assert sum(codes.values()) >= 20
    assert codes["201"] >= 2  # a partner and a client were really created from the examples
