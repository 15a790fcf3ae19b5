"""The one place that reads Lexware Office's status codes and error bodies.

Lexware answers errors as ``{message, details[{field, violation, message}]}`` or, on older
endpoints, as ``{"IssueList": [{i18nKey, source, type}]}``; both become one message.
"""

from __future__ import annotations

import httpx

from invoicesync_shared.connectors.errors import (
    PermanentError,
    RateLimited,
    SyncError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.retry_after import retry_after as header_retry_after

# Lexware's bucket refills 2 tokens per second; without Retry-After, one second is enough.
DEFAULT_RETRY_AFTER = 1.0
# A 406 on these fields means the organisation refuses VAT: maybe it became a small business.
TAX_FIELDS = ("taxConditions.taxType", "taxRatePercentage")

_STATUS_CODES = {
    402: ("subscription_inactive", "The Lexware Office subscription does not allow API access"),
    403: ("access_denied", "Lexware Office refused access"),
    404: ("not_found", "Lexware Office does not know this object"),
    409: ("conflict", "The object was changed in Lexware Office meanwhile"),
}


def error_message(response: httpx.Response) -> str:
    """Lexware's message with every field detail, else the raw body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    if "IssueList" in body:
        issues = body["IssueList"] or []
        return "; ".join(_issue(i) for i in issues if isinstance(i, dict)) or "rejected"
    details = [d for d in body.get("details") or [] if isinstance(d, dict)]
    parts = [f"{d.get('field')}: {d.get('message') or d.get('violation')}" for d in details]
    message = str(body.get("message") or response.reason_phrase)
    return f"{message} ({'; '.join(parts)})" if parts else message


def _issue(issue: dict[str, object]) -> str:
    source = issue.get("source")
    key = issue.get("i18nKey") or issue.get("type")
    return f"{source}: {key}" if source else str(key)


def retry_after(response: httpx.Response) -> float:
    seconds = header_retry_after(response)
    return DEFAULT_RETRY_AFTER if seconds is None else seconds


def classify(response: httpx.Response, *, is_write: bool) -> SyncError | None:
    """None for success, else the decision the runtime acts on (a 401 is the shared
    client's: a refused grant, see ``vendor_client``)."""
    status = response.status_code
    if status < 300:
        return None
    if status == 429:
        return RateLimited("Lexware rate limit reached", retry_after=retry_after(response))
    if status >= 500:
        # A write may have been applied before the failure: look it up before resending.
        if is_write:
            return UnknownOutcome(f"Lexware answered {status} to a write")
        return TransientError(f"Lexware answered {status}")
    message = error_message(response)
    if status in _STATUS_CODES:
        code, text = _STATUS_CODES[status]
        return PermanentError(code, f"{text}: {message}")
    if any(field in message for field in TAX_FIELDS):
        return PermanentError("tax_conditions_rejected", f"Lexware Office refused: {message}")
    return PermanentError("rejected", f"Lexware Office refused the document: {message}")
