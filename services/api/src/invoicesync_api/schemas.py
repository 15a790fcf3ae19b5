"""Value types shared by several resources: money, addresses, pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from invoicesync_shared.nul_free import NulFree


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('amounts are decimal strings such as "12.50", never JSON numbers')
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(max_digits=18, decimal_places=4),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, le=100, max_digits=6, decimal_places=3),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
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
