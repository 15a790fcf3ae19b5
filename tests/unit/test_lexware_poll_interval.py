"""Lexware's poll is a safety net beside its callbacks, and the only news without them."""

from __future__ import annotations

from connector_lexware.settings import LexwareConnectorSettings


def test_hourly_beside_callbacks_every_minute_without() -> None:
    with_callbacks = LexwareConnectorSettings(lexware_callback_url="https://x/v1/callbacks/lexware")
    assert with_callbacks.poll_interval() == 3600.0
    assert LexwareConnectorSettings(lexware_callback_url=None).poll_interval() == 60.0


def test_a_set_interval_wins() -> None:
    chosen = LexwareConnectorSettings(
        lexware_callback_url="https://x/v1/callbacks/lexware", lexware_poll_interval_seconds=5
    )
    assert chosen.poll_interval() == 5.0
