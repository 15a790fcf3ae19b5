"""The words the console shows for the API's codes, each marked for translation."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence

from invoicesync_api.console.i18n import _
from invoicesync_shared.db.models import Integration

SYSTEMS = {"exact": _("Exact Online"), "lexware": _("Lexware Office"), "yuki": _("Yuki")}

# the documents page's tabs, one per kind the API takes, in this order
KINDS = {
    "invoice": _("Invoices"),
    "credit_note": _("Credit notes"),
    "purchase_invoice": _("Purchase invoices"),
    "purchase_credit_note": _("Purchase credit notes"),
    "receipt": _("Receipts"),
}

LABELS: dict[str, str] = {
    # integration health (console.health)
    "active": _("Active"),
    "sending": _("Sending"),
    "paused": _("Paused"),
    "connecting": _("Waiting for access"),
    "needs_reconnecting": _("Needs reconnecting"),
    "error": _("Error"),
    # sync states
    "pending": _("Not sent yet"),
    "sent": _("Sent"),
    "booked": _("Booked"),
    "failed": _("Failed"),
    "ambiguous": _("Unclear: check in the accounting system"),
    # document states
    "draft": _("Draft"),
    # budget waits
    "daily_limit": _("daily limit reached"),
    "rate_limited": _("rate limited"),
    "error_limit": _("too many errors"),
}

# an integration's status where the inbox shows it (console.repository.ATTENTION)
INTEGRATION_LABELS = {
    "needs_reauthorization": LABELS["needs_reconnecting"],
    "error": LABELS["error"],
    "paused": LABELS["paused"],
}


def system_names(
    integrations: Sequence[Integration], gettext: Callable[[str], str]
) -> dict[uuid.UUID, str]:
    """The accounting system's name per integration, numbered when a client has two of
    the same system (a relinked one beside its old book)."""
    totals = Counter(i.system for i in integrations)
    seen: Counter[str] = Counter()
    names: dict[uuid.UUID, str] = {}
    for integration in integrations:
        seen[integration.system] += 1
        name = gettext(SYSTEMS.get(integration.system, integration.system))
        names[integration.id] = (
            name if totals[integration.system] == 1 else f"{name} {seen[integration.system]}"
        )
    return names


COUNT_LABELS: dict[str, str] = {
    "documents_total": _("Documents"),
    "documents_synced": _("Synced"),
    "documents_failed": _("Failed"),
    "documents_deferred": _("Moved to later"),
    "documents_pending": _("Still pending"),
    "customers_synced": _("Customers created"),
    "suppliers_synced": _("Suppliers created"),
}

# a document's payment status in an accounting system (read back by the connectors)
PAYMENT_LABELS: dict[str, str] = {
    "open": _("Open"),
    "paid": _("Paid"),
    "partially_paid": _("Partly paid"),
}
