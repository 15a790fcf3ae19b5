"""The OData v2 surface of Exact: query options, keys, the ``d`` envelope and paging.

Collections answer ``{"d":{"results":[…],"__next":…}}`` with at most 60 rows a page;
``__next`` repeats the query with ``$skiptoken=guid'<last key>'``. Rows are dicts of
Python values (UUID, Decimal, datetime, …) that only become JSON at the very end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from invoicesync_sandbox.exact.dates import to_odata
from invoicesync_sandbox.exact.errors import bad_request
from invoicesync_sandbox.exact.filters import FilterError, compile_filter

PAGE_SIZE = 60
Row = dict[str, object]


@dataclass
class Query:
    filter: str | None = None
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    top: int | None = None
    skip: int = 0
    skiptoken: object | None = None
    expand: set[str] = field(default_factory=set)
    raw: dict[str, str] = field(default_factory=dict)


def parse_query(params: Mapping[str, str]) -> Query:
    query = Query(raw={k: v for k, v in params.items() if k.startswith("$")})
    query.filter = params.get("$filter") or None
    if select := params.get("$select"):
        query.select = [name.strip() for name in select.split(",") if name.strip()]
    query.orderby = [_order_term(term) for term in params.get("$orderby", "").split(",") if term]
    query.top = _non_negative(params, "$top")
    query.skip = _non_negative(params, "$skip") or 0
    if token := params.get("$skiptoken"):
        query.skiptoken = parse_key(token)
    query.expand = {n.strip() for n in params.get("$expand", "").split(",") if n.strip()}
    return query


def _order_term(term: str) -> tuple[str, bool]:
    parts = term.split()
    return parts[0], len(parts) > 1 and parts[1].lower() == "desc"


def _non_negative(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.strip().isdigit():
        raise bad_request(f"Invalid value for {name}: '{text}'")
    return int(text)


def parse_key(text: str) -> object:
    """A key literal: ``guid'…'``, ``'text'`` or an integer (``123`` or ``123L``)."""
    text = text.strip()
    try:
        if text.startswith("guid'") and text.endswith("'"):
            return uuid.UUID(text[5:-1])
        if text.startswith("'") and text.endswith("'"):
            return text[1:-1].replace("''", "'")
        return int(text.rstrip("L"))
    except ValueError as exc:
        raise bad_request(f"Bad Request - Error in query syntax: '{text}'") from exc


def key_literal(value: object) -> str:
    if isinstance(value, uuid.UUID):
        return f"guid'{value}'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def json_value(value: object) -> object:
    """Python value → Exact's JSON: GUID strings, ``/Date(ms)/`` and plain numbers."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return to_odata(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def entity_json(row: Row, uri: str, type_name: str, select: list[str] | None) -> Row:
    body: Row = {"__metadata": {"uri": uri, "type": type_name}}
    for name, value in row.items():
        if select is None or name in select:
            body[name] = json_value(value)
    for name in select or []:
        body.setdefault(name, None)  # a property this row leaves unset reads as null
    return body


def check_select(query: Query, properties: set[str]) -> None:
    for name in query.select or []:
        if name != "*" and name not in properties:
            raise bad_request(f"No property '{name}' exists in type of this entity set.")
    if query.select and "*" in query.select:
        query.select = None


@dataclass
class Page:
    rows: list[Row]
    next_token: object | None  # the key of the last row when more rows follow


def page_rows(
    rows: Sequence[Row],
    query: Query,
    properties: set[str],
    key: str,
    seq: Callable[[object], int],
) -> Page:
    """Filter, order, cut ($skip/$top) and page ``rows``; ``seq`` gives creation order."""
    selected = _filtered(list(rows), query, properties)
    selected = _ordered(selected, query, key, seq)
    selected = selected[query.skip :]
    if query.top is not None:
        selected = selected[: query.top]
    if query.skiptoken is not None:
        selected = selected[_resume_at(selected, query, key, seq) :]
    page = selected[:PAGE_SIZE]
    more = len(selected) > PAGE_SIZE
    return Page(page, page[-1][key] if more else None)


def _filtered(rows: list[Row], query: Query, properties: set[str]) -> list[Row]:
    if not query.filter:
        return rows
    try:
        predicate = compile_filter(query.filter, properties)
        return [row for row in rows if predicate(row)]
    except FilterError as exc:
        raise bad_request(str(exc)) from exc


def _ordered(rows: list[Row], query: Query, key: str, seq: Callable[[object], int]) -> list[Row]:
    ordered = sorted(rows, key=lambda row: seq(row[key]))
    for name, descending in reversed(query.orderby):
        ordered.sort(key=_by(name), reverse=descending)
    return ordered


def _by(name: str) -> Callable[[Row], tuple[int, str, Decimal]]:
    return lambda row: _sort_key(row.get(name))


def _sort_key(value: object) -> tuple[int, str, Decimal]:
    if value is None:
        return (0, "", Decimal(0))
    if isinstance(value, bool | int | float | Decimal):
        return (1, "", Decimal(str(value)))
    if isinstance(value, datetime):
        return (1, "", Decimal(str(value.timestamp())))
    return (2, str(value), Decimal(0))


def _resume_at(rows: list[Row], query: Query, key: str, seq: Callable[[object], int]) -> int:
    token = query.skiptoken
    for index, row in enumerate(rows):
        if row[key] == token:
            return index + 1
    if query.orderby:
        return 0
    after = seq(token)
    return next((i for i, row in enumerate(rows) if seq(row[key]) > after), len(rows))


def next_link(url_without_query: str, query: Query, token: object) -> str:
    params = {k: v for k, v in query.raw.items() if k != "$skiptoken"}
    params["$skiptoken"] = key_literal(token)
    encoded = "&".join(f"{k}={quote(v, safe=chr(39) + '(),/:$')}" for k, v in params.items())
    return f"{url_without_query}?{encoded}"
