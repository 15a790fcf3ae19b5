"""The one place that reads Yuki's faults, HTTP statuses and per-invoice messages and
turns them into the runtime's decisions."""

from __future__ import annotations

import httpx
from zeep.exceptions import Fault, TransportError, XMLSyntaxError

from connector_yuki.archive import FOLDER_NOT_FOUND
from connector_yuki.documents import InvoiceResult
from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    RateLimited,
    SyncError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.retry_after import retry_after
from invoicesync_shared.connectors.transport import transport_error
from invoicesync_shared.states import IntegrationStatus


class SessionExpired(TransientError):
    """Yuki forgot the session: authenticate again and repeat the call (nothing ran)."""


INVALID_ACCESS_KEY = (
    "Yuki did not accept the access key. Create a new one in Yuki under Settings → "
    "Web services and store it on the integration."
)
ACCESS_KEY_REFUSED = "access_key_refused"
ADMINISTRATION_ACCESS_WITHDRAWN = "administration_access_withdrawn"
# How to connect a Yuki integration again: there is no consent flow, a key is stored.
_STORE_A_KEY = "store it on the integration (PATCH /v1/integrations/{id} settings.access_key)"
_SCHEMA_REJECTION = "salesinvoices.xsd"
# Words in Yuki's per-invoice messages (English and Dutch) → a code a bookkeeper can act on.
_MESSAGE_CODES = (
    ((_SCHEMA_REJECTION,), "invalid_document"),
    (("closed", "afgesloten"), "period_closed"),
    (("tax code", "vatpercentage", "btw-code"), "unknown_vat_code"),
    (("already exists", "duplicate"), "duplicate_reference"),
    (("contact not found",), "contact_not_found"),
)


def classify_call(
    exc: Exception, *, is_write: bool, administration: str | None = None
) -> SyncError:
    """A failed SOAP call (fault, HTTP status, network) as a decision; ``administration``
    is the one the call was for, if any (named in what the bookkeeper reads).

    A write may have been applied before an answer got lost: it becomes an
    ``UnknownOutcome``, so the document is looked up before it is sent again.
    """
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, NonSoapAnswer):
        return classify_status(exc.status, exc.retry_after, is_write=is_write)
    if isinstance(exc, Fault):
        return _classify_fault(
            str(exc.message or ""), str(exc.code or ""), is_write=is_write, admin=administration
        )
    if isinstance(exc, TransportError):
        return classify_status(int(exc.status_code or 0), None, is_write=is_write)
    if isinstance(exc, httpx.TransportError):
        return transport_error(exc, is_write=is_write, system="Yuki")
    if isinstance(exc, XMLSyntaxError | ValueError):
        # An answer we cannot read: whatever it said, a write may have happened.
        if is_write:
            return UnknownOutcome(f"unreadable answer from Yuki to a write ({exc})")
        return TransientError(f"unreadable answer from Yuki ({exc})")
    raise exc


def classify_status(status: int, retry_after: float | None, *, is_write: bool) -> SyncError:
    """An HTTP status without a SOAP fault in the body (proxies, gateways, rate limits).

    A 401 means what it means for every system: our credentials are refused, a lost
    connection for the user to mend (here: a new key), never a document's failure; a
    403 is access denied, as for Exact and Lexware."""
    if status == 429:
        return RateLimited("Yuki rate limit reached", retry_after=retry_after)
    if status == 401:
        return key_refused(f"HTTP {status}")
    if status == 403:
        return PermanentError("access_denied", f"Yuki refused access (HTTP {status}).")
    if status >= 500 and is_write:
        return UnknownOutcome(f"Yuki answered {status} to a write")
    if status >= 500 or status in (0, 408):
        return TransientError(f"Yuki answered {status}", retry_after=retry_after)
    return PermanentError("rejected", f"Yuki answered HTTP {status}.")


def _classify_fault(message: str, code: str, *, is_write: bool, admin: str | None) -> SyncError:
    text = " ".join(message.split())
    lowered = text.lower()
    if "session" in lowered and ("invalid" in lowered or "expired" in lowered):
        return SessionExpired("Yuki session expired")
    # Both refusals come before anything is done (Yuki checks the key, then the
    # administration), so even on a write nothing happened: the connection is lost.
    if "invalid access key" in lowered:
        return key_refused(text)
    if "no access to administration" in lowered:
        return administration_withdrawn(admin, text)
    if code.lower().endswith(("client", "sender")):
        return PermanentError("rejected", f"Yuki refused the request: {text}")
    if (archive := _archive_refusal(lowered, text)) is not None:
        return archive
    if is_write:
        return UnknownOutcome(f"Yuki fault on a write: {text}")
    return TransientError(f"Yuki fault: {text}")


def _archive_refusal(lowered: str, text: str) -> PermanentError | None:
    """Archive.asmx refusals of the upload itself, answered before anything is stored
    (ASP.NET refuses an oversized request before the service runs): never in doubt."""
    if "maximum request length exceeded" in lowered:
        return PermanentError(
            "file_too_large",
            f"Yuki's archive refused the file as too large; post the document again with a "
            f"smaller file. Yuki said: {text}",
        )
    if "file type" in lowered and "not supported" in lowered:
        return PermanentError(
            "unsupported_file_type",
            f"Yuki's archive does not take this file type; post the document again as PDF, "
            f"JPG or PNG. Yuki said: {text}",
        )
    if "folder" in lowered and "does not exist" in lowered:
        return PermanentError(
            FOLDER_NOT_FOUND,
            f"Yuki's archive has no such folder; verify the integration. Yuki said: {text}",
        )
    return None


def key_refused(said: str) -> AuthorizationLost:
    """Authenticate refused the stored key (revoked, or its user removed). The key is
    all Yuki's connection is, so the integration needs a new one: ``needs_reauthorization``
    (the user acts, nothing of ours is misconfigured)."""
    return AuthorizationLost(
        f"Yuki refused the stored access key (Yuki said: {said}). Create a new key in Yuki "
        f"under Settings → Web services and {_STORE_A_KEY}",
        reason=ACCESS_KEY_REFUSED,
        status=IntegrationStatus.NEEDS_REAUTHORIZATION,
        params={"said": said},
    )


def administration_withdrawn(admin: str | None, said: str) -> AuthorizationLost:
    """The key still works but no longer reaches the integration's administration (its
    user's rights on it were withdrawn, or the administration left the domain)."""
    which = f"administration {admin}" if admin else "the integration's administration"
    return AuthorizationLost(
        f"The Yuki access key no longer has access to {which} (Yuki said: {said}). Give "
        "the key's user access to it again in Yuki and verify the integration (POST "
        "/v1/integrations/{id}/verify), or create a key of a user who has access and "
        + _STORE_A_KEY,
        reason=ADMINISTRATION_ACCESS_WITHDRAWN,
        status=IntegrationStatus.NEEDS_REAUTHORIZATION,
        params={"administration": admin or "?", "said": said},
    )


def classify_result(result: InvoiceResult) -> PermanentError | None:
    """None for a booked invoice; else why Yuki refused it. Refusals are never retried."""
    if result.succeeded:
        return None
    message = result.message or "Yuki refused the invoice without a reason."
    code = _message_code(message)
    if code == "period_closed":
        return PermanentError(
            code,
            "The accounting period of this document is closed in Yuki; reopen it there "
            f"or change the document date. Yuki said: {message}",
        )
    return PermanentError(code, f"Yuki refused the document: {message}")


def is_schema_rejection(results: list[InvoiceResult]) -> bool:
    """Yuki refused the whole call as invalid against SalesInvoices.xsd (one bad invoice
    fails all of them)."""
    return bool(results) and all(
        not r.succeeded and _SCHEMA_REJECTION in r.message.lower() for r in results
    )


def _message_code(message: str) -> str:
    lowered = message.lower()
    for words, code in _MESSAGE_CODES:
        if any(word in lowered for word in words):
            return code
    return "rejected"


def replicate(exc: SyncError) -> SyncError:
    """A fresh copy per batch member, so members never share one exception object."""
    if isinstance(exc, AuthorizationLost):
        return AuthorizationLost(
            exc.message,
            reason=exc.reason,
            status=exc.status,
            credentials_issued_at=exc.credentials_issued_at,
            params=exc.params,
        )
    if isinstance(exc, PermanentError):
        return PermanentError(exc.code, exc.message)
    if isinstance(exc, TransientError):
        return type(exc)(str(exc), retry_after=exc.retry_after)
    return type(exc)(str(exc))


class NonSoapAnswer(Exception):
    """An error status whose body is not SOAP (a gateway's or rate limiter's text page)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status} without a SOAP body")
        self.status, self.retry_after = status, retry_after


async def raise_for_non_soap(response: httpx.Response) -> None:
    """An httpx response hook: zeep cannot parse a plain-text error page and drops its
    headers, so such an answer is read here, before zeep sees it."""
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400 and "xml" not in content_type:
        raise NonSoapAnswer(response.status_code, retry_after(response))
