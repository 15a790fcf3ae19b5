"""The cast of the examples: ids, names and moments the other example modules share."""

from __future__ import annotations

import base64
import json
from typing import Any

PARTNER_ID = "6cd17760-1dd7-4463-b9e4-5af8b5e3372f"
PARTNER_NAME = "Acme Accountants"
# Shaped as the API hands them out (isk_ + 43 characters); not a key anywhere.
API_KEY = "isk_dPshgxC-AySzxWLMYvcIirBrftkC3uB7G3S5wBioi-g"

CLIENT_ID = "9e43c351-fbd9-4b4d-9463-f9ca884c3cf6"
CLIENT_NAME = "Bakkerij De Vries B.V."
CLIENT_CREATED_AT = "2026-11-18T09:58:12Z"
GERMAN_CLIENT_ID = "b5b67397-eac6-492a-a1f5-a862f716cb8f"
GERMAN_CLIENT_NAME = "Müller Haustechnik GmbH"

EXACT_ID = "6a7434e0-d796-4b4e-a24a-a97995fa3c9e"
EXACT_DIVISION = 1234567
EXACT_CREATED_AT = "2026-11-18T10:01:40Z"
EXACT_ACTIVATED_AT = "2026-11-18T10:02:31Z"
YUKI_ID = "0e7f16f6-432d-4100-98a5-6a2c14fd4ca3"
YUKI_ADMINISTRATION_ID = "01798ab4-495b-444d-be03-780a5cd9d770"
YUKI_CREATED_AT = "2026-11-18T10:05:09Z"
LEXWARE_ID = "d3d717a3-1eb1-4c68-853d-fe6da4a89253"
LEXWARE_ORGANIZATION_ID = "cd754105-df7c-48e2-aaa0-1df276f38881"
LEXWARE_CREATED_AT = "2026-11-18T11:20:03Z"

INVOICE_ID = "71ae6de3-a89b-4b7f-8298-58f719e6e5f8"
INVOICE_NUMBER = "2026-0001"
INVOICE_CREATED_AT = "2026-11-20T14:03:27Z"
SECOND_INVOICE_ID = "ce5bf2f3-9a00-422a-9514-d78536e463fa"  # 2026-0002
THIRD_INVOICE_ID = "033dd218-6f5b-492b-b702-b8087a297212"  # 2026-0003
CREDIT_NOTE_ID = "18ce784f-1879-48b9-8a08-88547a85a9be"

EXACT_BOOKING_NUMBER = "26700001"  # Exact's EntryNumber: year, journal 70, sequence
EXACT_ENTRY_ID = "b17566d9-6bb9-4d28-af2e-7c265e5a46ca"
EXACT_SENT_AT = "2026-11-20T14:03:29Z"
YUKI_BOOKING_NUMBER = "000017"
YUKI_DOCUMENT_ID = "e6bccc46-2e8a-4c0e-9659-ed4143195e7b"
YUKI_SENT_AT = "2026-11-20T14:03:33Z"

SYNC_RUN_ID = "fb1d247a-e271-436c-8e5a-aa1842f6f380"
REPAIR_RUN_ID = "4eaf33cb-3e14-46b3-8818-0cc0111081d3"
NIGHTLY_RUN_ID = "5d0c3f8e-7b21-4c9a-9e46-2f8b1a7d6c05"
NOTIFICATION_ID = "a98475d8-1beb-4b4c-8b7f-c6f5133164a3"
ENDPOINT_ID = "99e7d365-0c9b-41a2-8e6f-07107d3cb723"
DELIVERY_ID = "154a95fe-6628-4dd8-b0f8-73874e907a41"
EVENT_ID = "msg_2b32aab8c28344a29a9c4aab890f233a"

ADDRESS: dict[str, Any] = {
    "street": "Oudegracht",
    "house_number": "112",
    "postal_code": "3511 AW",
    "city": "Utrecht",
    "country": "NL",
}
CUSTOMER: dict[str, Any] = {
    "external_id": "cust-42",
    "name": "Jansen Installatietechniek",
    "vat_number": "NL001234567B01",
    "company_number": "87654321",
    "email": "facturen@jansen-installatietechniek.example",
    "address": {
        "street": "Industrieweg",
        "house_number": "7",
        "postal_code": "3542 AD",
        "city": "Utrecht",
        "country": "NL",
    },
    "country": "NL",
    "is_person": False,
}
LINE: dict[str, Any] = {
    "description": "Maintenance visit",
    "quantity": "2",
    "unit_price": "75.00",
    "vat_rate": "21",
    "gl_account": "8000",
}


def cursor(created_at: str, row_id: str) -> str:
    """A ``next_cursor`` as the API encodes it (opaque to callers: pass it back as is)."""
    raw = json.dumps([created_at.replace("Z", "+00:00"), row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode()
