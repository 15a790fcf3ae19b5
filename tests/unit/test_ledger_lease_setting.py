"""The connector's ledger lease comes from the environment (chaos runs shorten it so a
rate-limit wait outlives it), and its default is the runtime's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from invoicesync_shared.connectors.runtime import DEFAULT_LEASE
from invoicesync_shared.settings import ServiceSettings


def test_the_lease_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICESYNC_LEDGER_LEASE_SECONDS", "20")
    assert ServiceSettings().ledger_lease() == timedelta(seconds=20)


def test_the_default_lease_is_the_runtimes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICESYNC_LEDGER_LEASE_SECONDS", raising=False)
    assert ServiceSettings().ledger_lease() == DEFAULT_LEASE


def test_a_lease_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICESYNC_LEDGER_LEASE_SECONDS", "0")
    with pytest.raises(ValidationError):
        ServiceSettings()
