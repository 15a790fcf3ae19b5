"""Field messages of a 422 (``errors[].message``) in the reader's language.

Pydantic writes its messages in English from a template per error ``type`` and the
error's ``ctx``; the catalogue translates the template, and the message is filled again
from the same ``ctx``. A message is translated only when the English template gives back
exactly the message pydantic wrote, so a template pydantic changes is never misapplied;
anything else stays as pydantic wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invoicesync_api.i18n.catalog import N_, gettext, render

# Pydantic's own templates (pydantic_core's list of errors) of the errors a caller meets.
PYDANTIC = {
    "missing": N_("Field required"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} character{expected_plural}"),
    "string_too_long": N_("String should have at most {max_length} character{expected_plural}"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "literal_error": N_("Input should be {expected}"),
    "enum": N_("Input should be {expected}"),
    "uuid_type": N_("UUID input should be a string, bytes or UUID object"),
    "date_type": N_("Input should be a valid date"),
    "datetime_type": N_("Input should be a valid datetime"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_type": N_("Input should be a valid integer"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "decimal_parsing": N_("Input should be a valid decimal"),
    "too_short": N_(
        "{field_type} should have at least {min_length} item{expected_plural} after "
        "validation, not {actual_length}"
    ),
    "too_long": N_(
        "{field_type} should have at most {max_length} item{expected_plural} after "
        "validation, not {actual_length}"
    ),
    "list_type": N_("Input should be a valid list"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_attributes_type": N_(
        "Input should be a valid dictionary or object to extract fields from"
    ),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "bool_type": N_("Input should be a valid boolean"),
}
VALUE_ERROR = N_("Value error, {error}")
# Our own validators' texts (ValueError and PydanticCustomError), by error type.
OURS: dict[str, tuple[str, ...]] = {
    "text_blank": (N_("must not be blank"),),
    "text_control_character": (N_("must not contain control characters (found U+{code})"),),
    "currency_unknown": (N_("{code} is not an ISO 4217 code of a currency to invoice in"),),
    "amount_too_large": (
        N_(
            "the lines add up to a {name} total of {amount}; a document's totals must "
            "stay below 10^12"
        ),
        N_("quantity x unit_price is {amount}; a line's amount must stay below 10^12"),
    ),
}
VALUE_ERRORS = (
    N_('amounts are decimal strings such as "12.50", never JSON numbers'),
    N_("each scope at most once"),
    N_("name a client_id, an integration_id or document_ids"),
)


def _filled(template: str, ctx: Mapping[str, Any]) -> str | None:
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return None


def _context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """Pydantic's ctx plus the plural ending its templates use."""
    counted = next((ctx[k] for k in ("min_length", "max_length") if k in ctx), 1)
    return {**ctx, "expected_plural": "" if counted == 1 else "s"}


def field_message(language: str, error_type: str, message: str, ctx: Mapping[str, Any]) -> str:
    """``message`` (as pydantic wrote it) in ``language``."""
    if error_type == "value_error":
        inner = str(ctx.get("error", ""))
        if VALUE_ERROR.format(error=inner) == message:
            return render(language, VALUE_ERROR, {"error": gettext(language, inner)})
        return message
    context = _context(ctx)
    candidates = (PYDANTIC.get(error_type), *OURS.get(error_type, ()))
    for template in candidates:
        if template is not None and _filled(template, context) == message:
            return _filled(gettext(language, template), context) or message
    return gettext(language, message)
