"""Sync errors in a bookkeeper's words: what went wrong and what to do, by stable code.

Connectors report a ``code`` and an English ``message`` (often quoting the accounting
system); the code is what is translated. English readers get the stored message as it
was written (it is the most precise: it names the journal, the VAT rate, the remote
text); every other language gets the catalogue's text for the code, filled with what the
API knows of the document — and ``{said}``, the stored message, where the system's own
words are the point. An unknown code is shown as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invoicesync_api.i18n.catalog import N_, render
from invoicesync_shared.states import FailureCode

SYSTEM_NAMES = {"exact": "Exact Online", "lexware": "Lexware Office", "yuki": "Yuki"}

SYNC_ERRORS: dict[str, str] = {
    # Decided by the API itself.
    FailureCode.BEFORE_START_DATE: N_(
        "Not sent: the document is dated before this integration's start date. To book it "
        "in {system}, move the integration's start date to or before the document date, "
        "then retry it."
    ),
    "duplicate_booking_number": N_(
        "Booking number {booking_number} is shared with another document."
    ),
    "remote_entry_missing": N_(
        "The {system} entry for booking number {booking_number} was deleted there; the "
        "next document may get the same number."
    ),
    # Reported by every connector (the runtime).
    FailureCode.UNAVAILABLE: N_(
        "{system} could not be reached. invoicesync tries again by itself; nothing to do."
    ),
    FailureCode.OUTCOME_UNKNOWN: N_(
        "It is not certain whether {system} booked the document. invoicesync looks it up "
        "before sending it again; nothing to do."
    ),
    FailureCode.AMBIGUOUS_MATCH: N_(
        "{system} holds entries that may be this document, but none is certainly it. Check "
        "the entries in {system}, delete any duplicate, then retry the document."
    ),
    FailureCode.INTERNAL_ERROR: N_(
        "Something went wrong in invoicesync while sending to {system}. It is checked before "
        "the document is sent again; retry it later."
    ),
    FailureCode.INTEGRATION_INACTIVE: N_(
        "The integration with {system} is not active, so the document was not sent. Connect "
        "it again; the document is sent then."
    ),
    FailureCode.KIND_NOT_SUPPORTED: N_(
        "Purchase documents are not yet supported by the {system} connector, so this one "
        "was not sent. Retry it once {system} supports them."
    ),
    FailureCode.FILE_MISSING: N_(
        "The original file of this document could not be read, so it was not sent to "
        "{system}. Post the document again with its file."
    ),
    FailureCode.NEEDS_REAUTHORIZATION: N_(
        "{system} no longer accepts invoicesync's access. Connect the integration again; "
        "the document is sent then."
    ),
    # Reported by the connectors for what the accounting system refused.
    "unknown_vat_code": N_(
        "{system} has no VAT code for a rate on this document. Create the VAT code in "
        "{system} (or map the rate in the integration's settings), then retry."
    ),
    "unsupported_vat_rate": N_(
        "{system} does not accept a VAT rate on this document. Check the VAT rates of the "
        "document and of {system}, then retry."
    ),
    "journal_missing": N_(
        "The sales journal set for this integration does not exist in {system}. Choose an "
        "existing sales journal in the integration's settings, then retry."
    ),
    "gl_account_missing": N_(
        "A general ledger account used for this document does not exist in {system}. "
        "Create it or choose another one in the integration's settings, then retry."
    ),
    "customer_blocked": N_(
        "The customer of this document is blocked in {system}. Unblock the customer there, "
        "then retry."
    ),
    # A purchase document's: its supplier, its purchase journal (Exact).
    "supplier_blocked": N_(
        "The supplier of this document is blocked in {system}. Unblock the supplier there, "
        "then retry."
    ),
    "purchase_journal_missing": N_(
        "The purchase journal set for this integration does not exist in {system}. Choose an "
        "existing purchase journal in the integration's settings, then retry."
    ),
    "period_locked": N_(
        "The accounting period of the document date is closed in {system}. Reopen the "
        "period there (or date the document in an open period), then retry."
    ),
    "period_closed": N_(
        "The accounting period of the document date is closed in {system}. Reopen the "
        "period there (or date the document in an open period), then retry."
    ),
    "small_business": N_(
        "The {system} account is set up as a small business without VAT; invoicesync "
        "cannot send invoices with VAT to it. Change the setting in {system} or disconnect "
        "the integration."
    ),
    "tax_conditions_rejected": N_(
        "{system} refused the document's VAT treatment. Check the VAT rates and the "
        "customer's country, then retry. {system} said: {said}"
    ),
    "unsupported_currency": N_(
        "{system} does not accept the document's currency for this company. Check the "
        "currencies set up in {system}, then retry."
    ),
    "reference_too_long": N_(
        "The document number is longer than {system} accepts. Use a shorter number for "
        "new documents; this one cannot be booked there as it is."
    ),
    "incomplete_data": N_(
        "{system} needs data the document does not have (e.g. the customer's address). "
        "Complete the document, then retry."
    ),
    "no_lines": N_("{system} does not accept a document without lines. Add lines, then retry."),
    "invalid_access_key": N_(
        "{system} refused the access key. Enter a valid access key in the integration's "
        "settings; the document is sent then."
    ),
    "administration_not_found": N_(
        "The administration set for this integration does not exist in {system} or the "
        "access key cannot reach it. Choose the right administration in the settings."
    ),
    "access_denied": N_(
        "{system} refused access. Check the rights of the connected user in {system}, then "
        "retry. {system} said: {said}"
    ),
    "division_blocked": N_(
        "This company (division) is blocked in {system}. Have it unblocked there, then retry."
    ),
    "exact_customer_blocked": N_(
        "The {system} subscription of this company is blocked. Settle it with {system}, then retry."
    ),
    "license_expired": N_(
        "The {system} licence of this company has expired. Renew it, then retry."
    ),
    "not_found": N_(
        "{system} does not know something the document refers to. Check the integration's "
        "settings, then retry. {system} said: {said}"
    ),
    # Purchase documents (a file beyond the system's limits, refused by the runtime or by
    # the system itself; Yuki's archive without a purchase folder).
    FailureCode.FILE_TOO_LARGE: N_(
        "The document's file is larger than {system} takes. Post the document again with "
        "a smaller file (for example a scan at a lower resolution)."
    ),
    FailureCode.UNSUPPORTED_FILE_TYPE: N_(
        "{system} does not take the document's file type. Post the document again with "
        "the file as PDF, JPG or PNG."
    ),
    "purchase_folder_not_found": N_(
        "{system} has no archive folder for purchase invoices in this administration. "
        "Have it set up in {system}, then retry."
    ),
    "rejected": N_(
        "{system} refused the document. Correct what it names, then retry. {system} said: {said}"
    ),
}

# The connectors' refusals of a connection whose text above fits a connection attempt too
# (a 422 ``connection_failed``, an integration's ``status_reason``); the others are about
# one document and stay as the connector wrote them there.
CONNECTION_REASONS = frozenset(
    {
        "small_business",
        "administration_not_found",
        "division_blocked",
        "exact_customer_blocked",
        "license_expired",
    }
)


def sync_error_message(
    language: str, code: str | None, message: str | None, **known: Any
) -> str | None:
    """``message`` (as stored, English) in ``language``; ``known``: system (its key),
    number, booking_number — what the API knows of the document."""
    template = SYNC_ERRORS.get(code or "")
    if language == "en" or template is None or message is None:
        return message
    return render(language, template, _params(message, known))


def _params(message: str, known: Mapping[str, Any]) -> dict[str, Any]:
    system = str(known.get("system") or "")
    return {
        "system": SYSTEM_NAMES.get(system, system or "?"),
        "number": known.get("number") or "?",
        "booking_number": known.get("booking_number") or "?",
        "said": message,
    }


def localised_error(language: str, error: Mapping[str, Any], **known: Any) -> dict[str, Any]:
    """A stored error entry (``code``, ``message``, maybe ``system``, ``number``) with its
    message in ``language``."""
    context = {
        "system": error.get("system") or known.get("system"),
        "number": error.get("number") or known.get("number"),
        "booking_number": known.get("booking_number"),
    }
    message = sync_error_message(language, error.get("code"), error.get("message"), **context)
    return {**error, "message": message}
