"""Contacts and products as ProcessSalesInvoices treats them: matched, else created or updated.

Contacts match on ContactCode, else on name + address; products match on description.
"""

from __future__ import annotations

from invoicesync_sandbox.yuki.invoices import ContactInput, LineInput
from invoicesync_sandbox.yuki.store import Administration, Contact, Product, new_guid


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _by_name_and_address(admin: Administration, data: ContactInput) -> Contact | None:
    for contact in admin.contacts:
        if (
            _same(contact.name, data.name)
            and _same(contact.address_1, data.address_1)
            and _same(contact.zipcode, data.zipcode)
            and _same(contact.city, data.city)
        ):
            return contact
    return None


def next_contact_code(admin: Administration) -> str:
    taken = {c.code for c in admin.contacts}
    n = len(admin.contacts) + 1
    while f"{n:05d}" in taken:
        n += 1
    return f"{n:05d}"


def resolve_contact(admin: Administration, data: ContactInput) -> Contact | str:
    """The matched or new contact, or the message when the invoice names none."""
    if data.code:
        found = next((c for c in admin.contacts if _same(c.code, data.code)), None)
        if found is not None:
            return found
    elif data.name:
        found = _by_name_and_address(admin, data)
        if found is not None:
            return found
    if not data.name:
        return "Contact not found: ContactCode is unknown and no FullName is given"
    contact = Contact(
        id=new_guid(),
        code=data.code or next_contact_code(admin),
        name=data.name,
        country=data.country,
        city=data.city,
        zipcode=data.zipcode,
        address_1=data.address_1,
        address_2=data.address_2,
        email=data.email,
        vat_number=data.vat_number,
        coc_number=data.coc_number,
        kind=data.kind,
    )
    admin.contacts.append(contact)
    return contact


def upsert_product(admin: Administration, line: LineInput) -> Product:
    """Match on description; update price, VAT and GL account when they differ."""
    key = line.product_description.strip().lower()
    product = admin.products.get(key)
    if product is None:
        product = Product(
            id=new_guid(),
            description=line.product_description,
            reference=line.product_reference,
            price=line.price,
            vat_percentage=line.vat_percentage,
            vat_type=line.vat_type,
            gl_account=line.gl_account or "8000",
        )
        admin.products[key] = product
        return product
    product.price = line.price
    product.vat_percentage = line.vat_percentage
    product.vat_type = line.vat_type
    if line.gl_account:
        product.gl_account = line.gl_account
    if line.product_reference:
        product.reference = line.product_reference
    return product
