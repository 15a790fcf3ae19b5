"""OData v2 ``$filter`` expressions, compiled to predicates over a row of Python values.

Covers what Exact clients send: eq/ne/gt/ge/lt/le, and/or/not, parentheses, the
literals ``'text'``, ``guid'…'``, ``datetime'…'``, numbers, true/false/null, and the
string functions substringof/startswith/endswith/tolower/toupper/trim/length.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

from invoicesync_sandbox.exact.dates import parse_datetime

Row = Mapping[str, object]
Expr = Callable[[Row], object]

_TOKEN = re.compile(
    r"\s*(?:(?P<prefixed>(?:guid|datetime|datetimeoffset|time|X|binary)'(?:[^']|'')*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?[LMDmdf]?)(?![\w])"
    r"|(?P<punct>[(),])"
    r"|(?P<name>[A-Za-z_][\w/.]*))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"substringof", "startswith", "endswith", "tolower", "toupper", "trim", "length"}


class FilterError(ValueError):
    """The filter does not parse or names a property the entity lacks."""


def compile_filter(text: str, properties: set[str]) -> Callable[[Row], bool]:
    """Parse ``text`` into a predicate; property names are checked against ``properties``."""
    parser = _Parser(_tokenize(text), properties)
    expr = parser.expression()
    if parser.pos != len(parser.tokens):
        raise FilterError(f"Syntax error at position {parser.pos} in '{text}'")
    return lambda row: expr(row) is True


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], properties: set[str]) -> None:
        self.tokens = tokens
        self.properties = properties
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise FilterError("Unexpected end of filter expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise FilterError(f"Expected '{value}' in filter expression")

    def keyword(self, word: str) -> bool:
        kind, value = self.peek()
        if kind == "name" and value == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Expr:
        left = self.conjunction()
        while self.keyword("or"):
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.unary()
        while self.keyword("and"):
            right = self.unary()
            left = _both(left, right)
        return left

    def unary(self) -> Expr:
        if self.keyword("not"):
            inner = self.unary()
            return lambda row: inner(row) is not True
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.value()
        kind, op = self.peek()
        if kind == "name" and op in _COMPARE:
            self.pos += 1
            right = self.value()
            return _compare(op, left, right)
        return left

    def value(self) -> Expr:
        kind, text = self.take()
        if kind == "punct" and text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind in ("prefixed", "string", "number"):
            literal = _literal(kind, text)
            return lambda row: literal
        if kind == "name":
            return self.name(text)
        raise FilterError(f"Unexpected '{text}' in filter expression")

    def name(self, text: str) -> Expr:
        if text in ("true", "false"):
            flag = text == "true"
            return lambda row: flag
        if text == "null":
            return lambda row: None
        if self.peek() == ("punct", "(") and text in _FUNCTIONS:
            return self.function(text)
        if text not in self.properties:
            raise FilterError(f"No property '{text}' exists in type of this entity set.")
        return lambda row: row.get(text)

    def function(self, name: str) -> Expr:
        self.expect("(")
        args = [self.expression()]
        while self.peek() == ("punct", ","):
            self.pos += 1
            args.append(self.expression())
        self.expect(")")
        return _call(name, args)


def _literal(kind: str, text: str) -> object:
    if kind == "number":
        return _number(text)
    prefix, _, quoted = text.partition("'") if kind == "prefixed" else ("", "", text[1:])
    body = quoted[:-1].replace("''", "'")
    try:
        if prefix == "guid":
            return uuid.UUID(body)
        if prefix in ("datetime", "datetimeoffset"):
            return parse_datetime(body)
    except ValueError as exc:
        raise FilterError(f"Unrecognized '{prefix}' literal '{body}'") from exc
    return body


def _number(text: str) -> object:
    digits = text.rstrip("LMDmdf")
    try:
        return int(digits) if "." not in digits else Decimal(digits)
    except (ValueError, InvalidOperation) as exc:
        raise FilterError(f"Invalid number '{text}'") from exc


def _either(left: Expr, right: Expr) -> Expr:
    return lambda row: left(row) is True or right(row) is True


def _both(left: Expr, right: Expr) -> Expr:
    return lambda row: left(row) is True and right(row) is True


def _comparable(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        return _guid_text(value)
    return value


def _guid_text(value: str) -> str:
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else value
    except ValueError:
        return value


def _compare(op: str, left: Expr, right: Expr) -> Expr:
    def evaluate(row: Row) -> object:
        a, b = _comparable(left(row)), _comparable(right(row))
        if op == "eq":
            return a == b
        if op == "ne":
            return a != b
        if a is None or b is None:
            return False
        try:
            return _order(op, a, b)
        except TypeError:
            return False

    return evaluate


def _order(op: str, a: object, b: object) -> bool:
    result: bool
    if op == "gt":
        result = a > b  # type: ignore[operator]
    elif op == "ge":
        result = a >= b  # type: ignore[operator]
    elif op == "lt":
        result = a < b  # type: ignore[operator]
    else:
        result = a <= b  # type: ignore[operator]
    return result


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _call(name: str, args: list[Expr]) -> Expr:
    def evaluate(row: Row) -> object:
        values = [_text(arg(row)) for arg in args]
        if name == "substringof" and len(values) == 2:
            return values[0].lower() in values[1].lower()
        if name == "startswith" and len(values) == 2:
            return values[0].startswith(values[1])
        if name == "endswith" and len(values) == 2:
            return values[0].endswith(values[1])
        if len(values) != 1:
            raise FilterError(f"Wrong number of arguments for {name}")
        return _unary_function(name, values[0])

    return evaluate


def _unary_function(name: str, value: str) -> object:
    if name == "tolower":
        return value.lower()
    if name == "toupper":
        return value.upper()
    if name == "trim":
        return value.strip()
    return len(value)
