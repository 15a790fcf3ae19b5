"""Yuki's HTTP statuses without a SOAP body decided as for every system: a 401 is our
credentials refused (a lost connection, never a document's failure), a 429 is
``RateLimited``, a 403 access denied."""

from __future__ import annotations

import pytest

from connector_yuki import errors
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    RateLimited,
    UnknownOutcome,
)


@pytest.mark.parametrize("is_write", [False, True])
def test_a_401_is_the_key_refused_like_every_systems_refused_grant(is_write: bool) -> None:
    decision = errors.classify_status(401, None, is_write=is_write)
    assert isinstance(decision, AuthorizationLost)
    assert (decision.reason, decision.status) == ("access_key_refused", "needs_reauthorization")
    assert "HTTP 401" in decision.message


def test_a_403_is_access_denied_and_no_lost_connection() -> None:
    decision = errors.classify_status(403, None, is_write=False)
    assert isinstance(decision, PermanentError)
    assert not isinstance(decision, AuthorizationLost)
    assert decision.code == "access_denied"


def test_a_429_is_rate_limited_with_its_wait_and_a_5xx_write_is_in_doubt() -> None:
    limited = errors.classify_status(429, 3.0, is_write=True)
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    assert isinstance(errors.classify_status(502, None, is_write=True), UnknownOutcome)
