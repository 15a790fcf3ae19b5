"""Examples of POST /v1/invoices/preview and /v1/credit-notes/preview."""

from __future__ import annotations

from typing import Any

from invoicesync_api.examples.media import named

EXACT_ID = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"
LEXWARE_ID = "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

PREVIEW: dict[str, Any] = {
    "integrations": [
        {
            "integration_id": EXACT_ID,
            "system": "exact",
            "payload": {
                "Journal": "70",
                "Customer": "3e5c7f0a-1b2c-4d3e-9f8a-7b6c5d4e3f2a",
                "EntryDate": "2026-11-20T00:00:00Z",
                "YourRef": "2026-0001",
                "Description": "Invoice 2026-0001 [is:…]",
                "Type": 20,
                "Currency": "EUR",
                "SalesEntryLines": [
                    {
                        "GLAccount": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
                        "AmountFC": "150.00",
                        "VATAmountFC": "31.50",
                        "VATCode": "2  ",
                        "Description": "Maintenance",
                        "Quantity": "2",
                    },
                    {
                        "GLAccount": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
                        "AmountFC": "40.00",
                        "VATAmountFC": "2.80",
                        "VATCode": None,
                        "Description": "Parts",
                        "Quantity": "1",
                    },
                ],
            },
            "customer": {
                "action": "matched",
                "remote_id": "3e5c7f0a-1b2c-4d3e-9f8a-7b6c5d4e3f2a",
                "code": "1001",
                "payload": None,
            },
            "problems": [
                {
                    "code": "unknown_vat_code",
                    "field": "lines.1.vat_rate",
                    "message": "Exact division 1001 has no VAT code for 7 %; add one in Exact.",
                }
            ],
        },
        {
            "integration_id": LEXWARE_ID,
            "system": "lexware",
            "payload": None,
            "customer": None,
            "problems": [
                {
                    "code": "before_start_date",
                    "field": "issue_date",
                    "message": "Dated 2026-11-20, before this integration's start date "
                    "(2026-12-01): it would not be sent. Move the integration's start_date "
                    f"(PATCH /v1/integrations/{LEXWARE_ID}) to or before its date.",
                }
            ],
        },
    ]
}

PREVIEWS = {
    "problems": named(
        "A missing VAT code in Exact, a start date in Lexware",
        PREVIEW,
        "Nothing was stored or sent; fix what each problem names and preview again.",
    ),
    "clean": named(
        "Clean: would be booked as shown",
        {
            "integrations": [
                {
                    "integration_id": "8b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                    "system": "yuki",
                    "payload": '<SalesInvoice xmlns="urn:xmlns:http://www.theyukicompany.com:'
                    'salesinvoices"><Reference>2026-0001</Reference>…</SalesInvoice>',
                    "customer": {
                        "action": "system_matches",
                        "remote_id": None,
                        "code": "cust-1",
                        "payload": None,
                    },
                    "problems": [],
                }
            ]
        },
    ),
}
