"""Line and document totals: cents rounded half-up per line, then summed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from invoicesync_api.documents import rules
from invoicesync_api.documents.schemas import LineIn, TotalsIn
from invoicesync_api.errors.exceptions import FieldsUnprocessable
from invoicesync_api.i18n.catalog import N_

CENT = rules.CENT


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal


def line_amounts(line: LineIn) -> tuple[Decimal, Decimal]:
    return rules.line_amounts(line.quantity, line.unit_price, line.vat_rate)


def compute(lines: list[LineIn]) -> Totals:
    net = vat = Decimal("0.00")
    for line in lines:
        line_net, line_vat = line_amounts(line)
        net += line_net
        vat += line_vat
    return Totals(net, vat, net + vat)


def check_declared(computed: Totals, declared: TotalsIn | None) -> None:
    """Declared totals must match the lines to the cent; all mismatches reported at once."""
    if declared is None:
        return
    wrong = [
        {
            "field": name,
            "message": N_("is {given} but the lines add up to {actual}"),
            "params": {"given": str(given), "actual": str(actual)},
            "type": "totals_mismatch",
        }
        for name, given, actual in (
            ("totals.net", declared.net, computed.net),
            ("totals.vat", declared.vat, computed.vat),
            ("totals.gross", declared.gross, computed.gross),
        )
        if given is not None and given.quantize(CENT) != actual
    ]
    if wrong:
        raise FieldsUnprocessable(wrong)
