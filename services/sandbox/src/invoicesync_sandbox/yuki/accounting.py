"""Read-back results: administrations, open items, GL scheme, contacts and sales items.

Each function returns the XML element embedded (as s:any) in the operation's Result.

Open items follow the answers Yuki documents for OutstandingDebtorItems(ByDate) (as
public clients quote them): ``<OutstandingDebtorItems xmlns="">`` holding ``<Item ID>``
with Date, Description, Contact, ContactID, OpenAmount, OriginalAmount, ``<Type ID="6">
Verkoopfactuur``, Reference (the invoice number: ours when we sent one), DueDate,
DocumentID and PaymentMethod. The item ID and the DocumentID are two GUIDs. No booking
number is listed: ``BookingNumber`` appears only with the ``identifiers`` switch.
Unverified: that Description is the imported invoice's Subject (public answers show an
invoice title there), and which date OutstandingDebtorItemsByDate filters on (the sandbox
takes the item's Date, both ends included; the WSDL only says "by startdate / enddate").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from invoicesync_sandbox.visibility import visible
from invoicesync_sandbox.yuki.store import Administration, Contact, Document
from invoicesync_sandbox.yuki.xmlout import El, el, leaf

DEFAULT_GL_SCHEME = (
    ("1300", "Debiteuren", "Balance"),
    ("1600", "Crediteuren", "Balance"),
    ("1800", "Af te dragen btw", "Balance"),
    ("8000", "Omzet", "ProfitLoss"),
    ("8100", "Omzet laag tarief", "ProfitLoss"),
)


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def administrations(admins: list[Administration]) -> El:
    return El(
        "Administrations",
        {"xmlns": ""},
        [
            el("Administration", None, leaf("Name", a.name), leaf("DomainID", a.domain_id), ID=a.id)
            for a in admins
        ],
    )


def _contact_of(admin: Administration, doc: Document) -> Contact | None:
    return next((c for c in admin.contacts if c.id == doc.contact_id), None)


def outstanding_item(admin: Administration, doc: Document) -> El:
    contact = _contact_of(admin, doc)
    extension = [leaf("BookingNumber", doc.booking_number or "")]
    return el(
        "Item",
        None,
        leaf("Date", doc.date.isoformat()),
        leaf("Description", doc.subject),
        leaf("Contact", contact.name if contact else ""),
        leaf("ContactID", doc.contact_id),
        leaf("OpenAmount", _amount(doc.open_amount or Decimal("0"))),
        leaf("OriginalAmount", _amount(doc.gross)),
        el("Type", "Verkoopfactuur", ID="6"),
        leaf("Reference", doc.reference),
        leaf("DueDate", doc.due_date.isoformat()),
        leaf("DocumentID", doc.document_id),
        leaf("PaymentMethod", doc.payment_method),
        *(extension if admin.identifiers_in_answers else []),
        ID=doc.item_id,
    )


def _sorted(admin: Administration, docs: list[Document], order: str) -> list[Document]:
    """Yuki's sortOrder values: DateAsc/Desc, AmountAsc/Desc, ContactAsc/Desc."""
    reverse = order.endswith("Desc")
    if order.startswith("Amount"):
        return sorted(docs, key=lambda d: (d.gross, d.reference), reverse=reverse)
    if order.startswith("Contact"):

        def by_contact(doc: Document) -> tuple[str, str]:
            contact = _contact_of(admin, doc)
            return (contact.name if contact else "", doc.reference)

        return sorted(docs, key=by_contact, reverse=reverse)
    return sorted(docs, key=lambda d: (d.date, d.reference), reverse=reverse)


def readable(admin: Administration, now: float) -> list[Document]:
    """The documents a read may see at sandbox time ``now`` (a late-visible write is not)."""
    return visible(admin.documents.values(), now)


def outstanding_debtor_items(
    admin: Administration,
    sort_order: str | None,
    now: float,
    between: tuple[dt.date, dt.date] | None = None,
) -> El:
    """Booked invoices with an open amount other than zero; ``between`` keeps those whose
    Date lies in the range, both ends included (OutstandingDebtorItemsByDate)."""
    docs = [
        d
        for d in readable(admin, now)
        if d.open_amount not in (None, Decimal("0"))
        and (between is None or between[0] <= d.date <= between[1])
    ]
    items = _sorted(admin, docs, sort_order or "DateAsc")
    return El("OutstandingDebtorItems", {"xmlns": ""}, [outstanding_item(admin, d) for d in items])


def matches(doc: Document, reference: str) -> bool:
    """Yuki takes an invoice number (our Reference / its booking number) or a GUID."""
    ref = reference.strip()
    return bool(ref) and ref.lower() in (
        doc.reference.lower(),
        (doc.booking_number or "").lower(),
        doc.document_id.lower(),
        doc.item_id.lower(),
    )


def check_outstanding(admins: list[Administration], reference: str, now: float) -> El:
    """Every booked item matching ``reference``, including settled ones (OpenAmount 0)."""
    items = [
        outstanding_item(admin, doc)
        for admin in admins
        for doc in readable(admin, now)
        if doc.processed and matches(doc, reference)
    ]
    return El("OutstandingItems", {"xmlns": ""}, items)


def gl_scheme(admin: Administration) -> El:
    codes = {code: (name, kind) for code, name, kind in DEFAULT_GL_SCHEME}
    for product in admin.products.values():
        codes.setdefault(product.gl_account, (f"Omzet {product.gl_account}", "ProfitLoss"))
    return El(
        "GLAccountScheme",
        {"xmlns": ""},
        [
            el(
                "GlAccount",
                None,
                leaf("code", code),
                leaf("type", kind),
                leaf("isEnabled", True),
                leaf("descripton", name),
            )
            for code, (name, kind) in sorted(codes.items())
        ],
    )


def _contact_hit(contact: Contact, option: str, value: str) -> bool:
    needle = value.strip().lower()
    fields = {
        "Name": [contact.name],
        "Code": [contact.code],
        "VATNumber": [contact.vat_number],
        "CoCNumber": [contact.coc_number],
    }
    haystack = fields.get(option) or [f for values in fields.values() for f in values]
    return not needle or any(needle in f.lower() for f in haystack)


def search_contacts(admins: list[Administration], option: str, value: str) -> El:
    found = [c for a in admins for c in a.contacts if _contact_hit(c, option, value)]
    return El("Contacts", {"xmlns": ""}, [_contact_xml(c) for c in found])


def _contact_xml(contact: Contact) -> El:
    return el(
        "Contact",
        None,
        leaf("Code", contact.code),
        leaf("Name", contact.name),
        leaf("AddressLine_1", contact.address_1),
        leaf("Zipcode", contact.zipcode),
        leaf("City", contact.city),
        leaf("CountryCode", contact.country),
        leaf("EmailAddress", contact.email),
        leaf("VATNumber", contact.vat_number),
        leaf("CoCNumber", contact.coc_number),
        leaf("ContactType", contact.kind),
        leaf("IsCustomer", True),
        ID=contact.id,
    )


def sales_items(admin: Administration) -> list[El]:
    return [
        el("SalesItem", None, leaf("id", p.id), leaf("description", p.description))
        for p in admin.products.values()
    ]
