"""``GET /v1/voucherlist``: the filters, paging and sort Lexware documents for its list.

Lexware's voucherlist documentation (and the public clients that follow it) name these
query parameters; the list is narrowed by every one given:

- ``voucherType`` and ``voucherStatus``: required, comma separated, or ``any``;
  ``overdue`` (an open voucher past its due date) only on its own.
- ``archived`` (true/false), ``contactId``, ``voucherNumber``.
- ``voucherDateFrom``/``To``, ``createdDateFrom``/``To``, ``updatedDateFrom``/``To``:
  ``yyyy-MM-dd``, each a whole day in Berlin time (CET/CEST), both bounds inclusive.
- ``page`` (from 0) and ``size`` (default 25, at most 250), Spring-style pages.

Unverified, so the stricter reading (see the sandbox's README section): what Lexware
answers to a malformed value (here 400 in its regular error shape, naming the parameter,
never the value ignored); ``archived`` takes only true/false; ``voucherNumber`` matches
exactly; a ``...From`` after its ``...To`` is refused; ``sort`` takes ``property[,ASC|DESC]``
for voucherDate, voucherNumber, createdDate and updatedDate only; without ``sort`` the
newest voucher date comes first; an overdue voucher keeps ``voucherStatus`` "open" in rows.
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from invoicesync_sandbox.lexware import lifecycle
from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env, spring_page
from invoicesync_sandbox.lexware.errors import LexwareError, Violation, bad_request
from invoicesync_sandbox.lexware.store import BERLIN, Voucher, iso
from invoicesync_sandbox.visibility import visible

LIST_TYPES = frozenset(
    {
        "salesinvoice",
        "salescreditnote",
        "purchaseinvoice",
        "purchasecreditnote",
        "invoice",
        "downpaymentinvoice",
        "creditnote",
        "orderconfirmation",
        "quotation",
        "deliverynote",
        "any",
    }
)
LIST_STATUSES = frozenset(
    {
        "draft",
        "open",
        "overdue",
        "paid",
        "paidoff",
        "voided",
        "transferred",
        "sepadebit",
        "accepted",
        "rejected",
        "unchecked",
        "any",
    }
)
MAX_SIZE = 250
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
BOOLEANS = {"true": True, "false": False}
DIRECTIONS = ("ASC", "DESC")


def _day_of(stamp: str) -> date:
    """The Berlin calendar day of a Lexware date-time (``2024-03-01T00:00:00.000+01:00``)."""
    return _moment(stamp).astimezone(BERLIN).date()


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=BERLIN)


# What each date filter and each sort property reads off a voucher.
DATE_FIELDS: dict[str, Callable[[Voucher], str]] = {
    "voucherDate": lambda v: str(v.data["voucherDate"]),
    "createdDate": lambda v: iso(v.created),
    "updatedDate": lambda v: iso(v.updated),
}


def _refused(name: str, message: str) -> LexwareError:
    return bad_request(
        f"Parameter {name} is not valid: {message}", [Violation(name, "NOTVALID", message)]
    )


def _split(name: str, value: str | None, allowed: frozenset[str]) -> set[str]:
    if not value:
        raise bad_request(
            f"Parameter {name} is required.", [Violation(name, "NOTNULL", "must not be null")]
        )
    parts = {p.strip() for p in value.split(",") if p.strip()}
    unknown = parts - allowed
    if unknown:
        raise bad_request(
            f"Unknown {name}: {', '.join(sorted(unknown))}.",
            [Violation(name, "NOTVALID", f"unknown value {sorted(unknown)[0]}")],
        )
    return parts


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    if DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _refused(name, "must be a date in format yyyy-MM-dd")


@dataclass(frozen=True)
class Sort:
    prop: str
    descending: bool

    def key(self, voucher: Voucher) -> tuple[Any, ...]:
        if self.prop == "voucherNumber":
            return (voucher.number or "", voucher.created)
        return (_moment(DATE_FIELDS[self.prop](voucher)), voucher.created)

    def spring(self) -> list[dict[str, Any]]:
        direction = "DESC" if self.descending else "ASC"
        return [
            {
                "property": self.prop,
                "direction": direction,
                "ignoreCase": False,
                "nullHandling": "NATIVE",
                "ascending": not self.descending,
            }
        ]


DEFAULT_SORT = Sort("voucherDate", descending=True)
SORTABLE = ("voucherDate", "voucherNumber", "createdDate", "updatedDate")


def _sort(value: str | None) -> Sort:
    if not value:
        return DEFAULT_SORT
    prop, _, direction = (p.strip() for p in value.partition(","))
    if prop not in SORTABLE:
        raise _refused("sort", f"property must be one of {', '.join(SORTABLE)}")
    direction = direction.upper() or "ASC"  # Spring's default direction
    if direction not in DIRECTIONS:
        raise _refused("sort", "direction must be ASC or DESC")
    return Sort(prop, descending=direction == "DESC")


@dataclass(frozen=True)
class ListQuery:
    """A voucherlist request, checked: every filter given, each one narrowing the list."""

    types: set[str]
    statuses: set[str]
    ranges: dict[str, tuple[date | None, date | None]]
    archived: bool | None
    contact_id: str | None
    number: str | None

    def matches(self, voucher: Voucher, today: date) -> bool:
        if "any" not in self.types and lifecycle.LIST_TYPE[voucher.kind] not in self.types:
            return False
        if not self._status_matches(voucher, today):
            return False
        for field_name, (start, end) in self.ranges.items():
            day = _day_of(DATE_FIELDS[field_name](voucher))
            if (start and day < start) or (end and day > end):
                return False
        if self.archived is not None and voucher.data.get("archived", False) != self.archived:
            return False
        contact = voucher.data["address"].get("contactId")
        if self.contact_id is not None and contact != self.contact_id:
            return False
        return self.number is None or voucher.number == self.number

    def _status_matches(self, voucher: Voucher, today: date) -> bool:
        if "any" in self.statuses:
            return True
        if "overdue" in self.statuses:
            return voucher.status == "open" and _day_of(lifecycle.due_date(voucher)) < today
        return voucher.status in self.statuses


def parse(params: dict[str, str | None]) -> ListQuery:
    """The checked request; a ``LexwareError`` (400) naming the first bad parameter."""
    types = _split("voucherType", params.get("voucherType"), LIST_TYPES)
    statuses = _split("voucherStatus", params.get("voucherStatus"), LIST_STATUSES)
    if "overdue" in statuses and len(statuses) > 1:
        raise _refused("voucherStatus", "overdue cannot be combined with other values")
    ranges: dict[str, tuple[date | None, date | None]] = {}
    for field_name in DATE_FIELDS:
        start = _day(f"{field_name}From", params.get(f"{field_name}From"))
        end = _day(f"{field_name}To", params.get(f"{field_name}To"))
        if start and end and start > end:
            raise _refused(f"{field_name}From", f"must not be after {field_name}To")
        if start or end:
            ranges[field_name] = (start, end)
    archived = params.get("archived") or None
    if archived is not None and archived.lower() not in BOOLEANS:
        raise _refused("archived", "must be true or false")
    contact_id = params.get("contactId") or None
    if contact_id is not None:
        try:
            uuid.UUID(contact_id)
        except ValueError:
            raise _refused("contactId", "must be a UUID") from None
    return ListQuery(
        types,
        statuses,
        ranges,
        BOOLEANS[archived.lower()] if archived is not None else None,
        contact_id,
        params.get("voucherNumber") or None,
    )


def _row(voucher: Voucher) -> dict[str, Any]:
    return {
        "id": voucher.id,
        "voucherType": lifecycle.LIST_TYPE[voucher.kind],
        "voucherStatus": voucher.status,
        "voucherNumber": voucher.number,
        "voucherDate": voucher.data["voucherDate"],
        "createdDate": iso(voucher.created),
        "updatedDate": iso(voucher.updated),
        "dueDate": lifecycle.due_date(voucher),
        "contactId": voucher.data["address"].get("contactId"),
        "contactName": voucher.data["address"].get("name", ""),
        "totalAmount": voucher.gross_total(),
        "openAmount": lifecycle.open_amount(voucher),
        "currency": "EUR",
        "archived": voucher.data.get("archived", False),
    }


def register(router: APIRouter, env: Env) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.get("/v1/voucherlist")
    async def voucherlist(
        caller: CallerDep,
        voucherType: str | None = None,
        voucherStatus: str | None = None,
        archived: str | None = None,
        contactId: str | None = None,
        voucherDateFrom: str | None = None,
        voucherDateTo: str | None = None,
        createdDateFrom: str | None = None,
        createdDateTo: str | None = None,
        updatedDateFrom: str | None = None,
        updatedDateTo: str | None = None,
        voucherNumber: str | None = None,
        sort: str | None = None,
        page: Annotated[int, Query(ge=0)] = 0,
        size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 25,
    ) -> dict[str, Any]:
        query = parse(
            {
                "voucherType": voucherType,
                "voucherStatus": voucherStatus,
                "archived": archived,
                "contactId": contactId,
                "voucherDateFrom": voucherDateFrom,
                "voucherDateTo": voucherDateTo,
                "createdDateFrom": createdDateFrom,
                "createdDateTo": createdDateTo,
                "updatedDateFrom": updatedDateFrom,
                "updatedDateTo": updatedDateTo,
                "voucherNumber": voucherNumber,
            }
        )
        order = _sort(sort)
        now = env.now()
        today = datetime.fromtimestamp(now, BERLIN).date()
        chosen = [
            v for v in visible(list(caller.org.vouchers.values()), now) if query.matches(v, today)
        ]
        chosen.sort(key=order.key, reverse=order.descending)
        return spring_page([_row(v) for v in chosen], page, size, order.spring())
