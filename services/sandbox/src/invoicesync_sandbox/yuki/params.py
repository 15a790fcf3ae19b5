"""Typed operation parameters read as ASMX reads them: an unreadable value is a soap:Client
fault ("Server was unable to read request"), raised before the operation runs."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from decimal import Decimal, InvalidOperation

from invoicesync_sandbox.yuki.soap import SoapFault, SoapRequest
from invoicesync_sandbox.yuki.wsdl import ENUMS


def unreadable(message: str) -> SoapFault:
    return SoapFault(f"Server was unable to read request. ---> {message}", "Client")


def date_param(request: SoapRequest, name: str) -> date:
    """An s:dateTime parameter's day; a missing or unreadable one faults, as ASMX does."""
    text = request.param(name) or ""
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise unreadable(f"The string '{text}' is not a valid AllXsd value ({name}).") from exc


def int_param(request: SoapRequest, name: str) -> int:
    text = request.param(name) or ""
    try:
        return int(text)
    except ValueError as exc:
        raise unreadable(f"Input string was not in a correct format ({name}: '{text}').") from exc


def decimal_param(request: SoapRequest, name: str) -> Decimal:
    text = request.param(name) or ""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise unreadable(f"Input string was not in a correct format ({name}: '{text}').") from exc
    if not value.is_finite():
        raise unreadable(f"Input string was not in a correct format ({name}: '{text}').")
    return value


def enum_param(request: SoapRequest, name: str, enum: str) -> str:
    text = request.param(name) or ""
    if text not in ENUMS[enum]:
        raise unreadable(f"Instance validation error: '{text}' is not a valid value for {enum}.")
    return text


def base64_param(request: SoapRequest, name: str) -> bytes:
    """An s:base64Binary parameter's bytes (whitespace between the characters is allowed)."""
    text = "".join((request.param(name) or "").split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise unreadable(
            "The input is not a valid Base-64 string as it contains a non-base 64 character."
        ) from exc
