"""Opened Lexware vouchers are reused only while the voucherlist says they are unchanged."""

from __future__ import annotations

from connector_lexware.opened_vouchers import OpenedVouchers

ROW = {"id": "v-1", "updatedDate": "2026-12-03T10:00:00.000+01:00"}


def test_an_unchanged_voucher_is_reused_and_a_changed_one_is_not() -> None:
    opened = OpenedVouchers()
    opened.put("org-1", {**ROW, "introduction": "isync:..."})
    assert opened.get("org-1", ROW) == {**ROW, "introduction": "isync:..."}
    assert opened.get("org-1", {**ROW, "updatedDate": "2026-12-03T10:05:00.000+01:00"}) is None
    assert opened.get("org-2", ROW) is None  # another organisation's voucher list
    assert opened.get("org-1", {"id": "v-1"}) is None  # no date: never trusted


def test_the_least_recently_used_are_forgotten_beyond_the_size() -> None:
    opened = OpenedVouchers(size=2)
    for name in ("a", "b"):
        opened.put("org", {"id": name, "updatedDate": "d"})
    assert opened.get("org", {"id": "a", "updatedDate": "d"}) is not None  # a is recent now
    opened.put("org", {"id": "c", "updatedDate": "d"})
    assert opened.get("org", {"id": "b", "updatedDate": "d"}) is None
    assert opened.get("org", {"id": "a", "updatedDate": "d"}) is not None
