"""Value types shared by several resources: money, addresses, pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from invoicesync_shared.nul_free import NulFree


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('amounts are decimal strings such as "12.50", never JSON numbers')
    return value


def _plain(value: Decimal) -> str:
    return format(value, "f")  # never an exponent: "0.00", not "0E-2"


Money = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(max_digits=18, decimal_places=4),
    PlainSerializer(_plain, return_type=str),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, le=100, max_digits=6, decimal_places=3),
    PlainSerializer(_plain, return_type=str),
]
# In answers: what was stored, checked as Money or Rate when it came in. Checking the digits
# again for every line of every page cost a sixth of a list's time; the text is the same.
StoredMoney = Annotated[
    Decimal,
    PlainSerializer(_plain, return_type=str),
    WithJsonSchema({"type": "string", "decimal_places": 4}, mode="serialization"),
]
StoredRate = Annotated[
    Decimal,
    PlainSerializer(_plain, return_type=str),
    WithJsonSchema({"type": "string", "decimal_places": 3}, mode="serialization"),
]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["NL"])]


class Strict(NulFree):
    """Request bodies refuse unknown fields, so a typo is an error, not silently lost, and
    NUL characters, which no text column can store."""

    model_config = ConfigDict(extra="forbid")


class AddressIn(Strict):
    street: str | None = Field(default=None, max_length=200)
    house_number: str | None = Field(default=None, max_length=20)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: CountryCode | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None
