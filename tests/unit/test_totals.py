"""Totals: half-up per line, then summed; declared totals checked to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicesync_api.documents.schemas import LineIn, TotalsIn
from invoicesync_api.documents.totals import check_declared, compute
from invoicesync_api.errors.exceptions import Unprocessable


def line(quantity: str, price: str, rate: str) -> LineIn:
    return LineIn(
        description="x",
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        vat_rate=Decimal(rate),
    )


def test_half_up_rounding_per_line() -> None:
    totals = compute([line("1", "0.05", "10"), line("1", "0.05", "10")])  # 0.005 → 0.01 each
    assert (totals.net, totals.vat, totals.gross) == (
        Decimal("0.10"),
        Decimal("0.02"),
        Decimal("0.12"),
    )


def test_every_mismatch_is_reported_at_once() -> None:
    totals = compute([line("2", "75.00", "21")])
    with pytest.raises(Unprocessable) as caught:
        check_declared(
            totals, TotalsIn(net=Decimal("150.01"), vat=Decimal("31.49"), gross=Decimal("181.50"))
        )
    assert [(e["field"], e["message"]) for e in caught.value.extra["errors"]] == [
        ("totals.net", "is 150.01 but the lines add up to 150.00"),
        ("totals.vat", "is 31.49 but the lines add up to 31.50"),
    ]
