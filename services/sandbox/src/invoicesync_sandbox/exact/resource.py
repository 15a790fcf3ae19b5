"""The contract of one Exact entity set (e.g. ``crm/Accounts``) and the call it serves.

Resources turn records into rows of Python values and apply writes; the dispatcher in
``api.py`` does authentication, limits, query options and the JSON envelope for them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from invoicesync_sandbox.exact.dates import parse_datetime
from invoicesync_sandbox.exact.errors import ExactError, bad_request, not_found
from invoicesync_sandbox.exact.models import Division, SalesEntry, User
from invoicesync_sandbox.exact.odata import Row
from invoicesync_sandbox.visibility import LateVisible, is_visible

Body = Mapping[str, object]


@dataclass
class Call:
    """What a resource may use while serving one request."""

    user: User
    division: Division | None
    now: datetime

    def div(self) -> Division:
        if self.division is None:  # only current/Me runs without a division
            raise not_found()
        return self.division

    def entries(self) -> list[SalesEntry]:
        """The division's entries this read may see: a late-visible write is not yet."""
        return [e for e in self.div().entries.values() if self.sees(e)]

    def sees(self, entry: LateVisible) -> bool:
        return is_visible(entry, self.now.replace(tzinfo=UTC).timestamp())


class Resource:
    """One entity set; subclasses override what the real endpoint supports."""

    path = ""
    type_name = ""
    key = "ID"
    properties: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()
    navigations: tuple[str, ...] = ()

    def rows(self, call: Call) -> list[Row]:
        raise method_not_allowed()

    def row(self, call: Call, key: object) -> Row:
        for row in self.rows(call):
            if row[self.key] == key:
                return row
        raise not_found()

    def create(self, call: Call, body: Body) -> Row:
        raise method_not_allowed()

    def update(self, call: Call, key: object, body: Body) -> None:
        raise method_not_allowed()

    def delete(self, call: Call, key: object) -> None:
        raise method_not_allowed()

    def expand(self, call: Call, row: Row, navigation: str) -> list[Row]:
        return []

    def seq(self, call: Call, key: object) -> int:
        division = call.division
        if division is None or not isinstance(key, uuid.UUID):
            return 0
        return division.seq.get(key, 0)

    def check_body(self, body: Body) -> None:
        """Reject properties the entity does not have, as OData does."""
        for name in body:
            if name not in self.properties and name not in self.navigations:
                raise bad_request(
                    "Error processing request stream. The property name "
                    f"'{name}' specified for type '{self.type_name}' is not valid."
                )


def method_not_allowed() -> ExactError:
    return ExactError(405, "The requested operation is not supported on this resource.")


def text(body: Body, name: str, limit: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise bad_request(f"Invalid value: {name}")
    result = str(value)
    if limit is not None and len(result) > limit:
        raise bad_request(f"{name}: maximum length is {limit}")
    return result


def decimal(body: Body, name: str) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad_request(f"Invalid value: {name}")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise bad_request(f"Invalid value: {name}") from exc


def integer(body: Body, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise bad_request(f"Invalid value: {name}") from exc


def date(body: Body, name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Invalid value: {name}")
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise bad_request(f"Invalid value: {name}") from exc


def flag(body: Body, name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f"Invalid value: {name}")
