"""Examples for integrations: connecting each system, its answers, and the lifecycle."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named
from invoicesync_api.examples.sync import REPAIR_RUN_STARTED

EXACT_SETTINGS: dict[str, Any] = {
    "division": story.EXACT_DIVISION,
    "sales_journal": "70",
    "credit_note_journal": "70",
    "start_date": "2026-01-01",
    "default_gl_account": "8000",
}
EXACT_IN: dict[str, Any] = {
    "system": "exact",
    "settings": EXACT_SETTINGS,
    "nightly_sync": True,
    "nightly_hour": 2,
}
LEXWARE_IN: dict[str, Any] = {"system": "lexware", "settings": {}, "nightly_sync": False}
YUKI_IN: dict[str, Any] = {
    "system": "yuki",
    "settings": {
        "access_key": "3f8a2c1e-7d4b-4e9a-9c2f-5b6e1d0a8f47",
        "administration_id": story.YUKI_ADMINISTRATION_ID,
    },
    "nightly_sync": True,
    "nightly_hour": 3,
}

EXACT_PENDING: dict[str, Any] = {
    "id": story.EXACT_ID,
    "client_id": story.CLIENT_ID,
    "system": "exact",
    "status": "pending_authorization",
    "status_reason": None,
    "settings": EXACT_SETTINGS,
    "nightly_sync": True,
    "nightly_hour": 2,
    "activated_at": None,
    "deactivated_at": None,
    "created_at": story.EXACT_CREATED_AT,
    "authorize_url": "https://start.exactonline.nl/api/oauth2/auth"
    "?client_id=7d1f2b9c-4e3a-4c8b-9f0e-2a6d5c1b8e34"
    "&redirect_uri=https%3A%2F%2Fapi.invoicesync.example%2Fv1%2Foauth%2Fcallback"
    "&response_type=code&state=DbgxgZw1LGY-g6TOINhz6PXJc5AqztCJle3rKVl3-zU",
    "counts": {},
}
# After "allow access": verified, with what the connector found in Exact under "remote".
EXACT_ACTIVE: dict[str, Any] = {
    **EXACT_PENDING,
    "status": "active",
    "settings": {
        **EXACT_SETTINGS,
        "remote": {"division": story.EXACT_DIVISION, "journals": ["20", "70", "90"]},
    },
    "activated_at": story.EXACT_ACTIVATED_AT,
    "authorize_url": None,
}
EXACT_WITH_COUNTS: dict[str, Any] = {
    **EXACT_ACTIVE,
    "counts": {"booked": 41, "pending": 2, "failed": 1},
}
EXACT_PAUSED: dict[str, Any] = {
    **EXACT_ACTIVE,
    "status": "paused",
    "status_reason": f"Exact division {story.EXACT_DIVISION} has no VAT code for 7 %; add one "
    "in Exact.",
    "paused_cause": {
        "code": "unknown_vat_code",
        "message": f"Exact division {story.EXACT_DIVISION} has no VAT code for 7 %; add one "
        "in Exact.",
    },
    "counts": {"booked": 41, "failed": 3, "pending": 47},
}
EXACT_JOURNAL_MISSING: dict[str, Any] = {
    **EXACT_PENDING,
    "status": "error",
    "status_reason": f"Exact division {story.EXACT_DIVISION} has no journal sales_journal "
    "'70', credit_note_journal '70'; its journals are 20, 80, 90.",
    "authorize_url": None,
}

YUKI_ACTIVE: dict[str, Any] = {
    "id": story.YUKI_ID,
    "client_id": story.CLIENT_ID,
    "system": "yuki",
    "status": "active",
    "status_reason": None,
    # The access key is stored encrypted and never shown again.
    "settings": {
        "administration_id": story.YUKI_ADMINISTRATION_ID,
        "default_gl_account": None,
        "remote": {
            "administration_id": story.YUKI_ADMINISTRATION_ID,
            "administration_name": story.CLIENT_NAME,
        },
    },
    "nightly_sync": True,
    "nightly_hour": 3,
    "activated_at": story.YUKI_CREATED_AT,
    "deactivated_at": None,
    "created_at": story.YUKI_CREATED_AT,
    "authorize_url": None,
    "counts": {},
}

LEXWARE_PENDING: dict[str, Any] = {
    "id": story.LEXWARE_ID,
    "client_id": story.GERMAN_CLIENT_ID,
    "system": "lexware",
    "status": "pending_authorization",
    "status_reason": None,
    "settings": {},
    "nightly_sync": False,
    "nightly_hour": 2,
    "activated_at": None,
    "deactivated_at": None,
    "created_at": story.LEXWARE_CREATED_AT,
    "authorize_url": "https://app.lexoffice.de/api/oauth2/authorize?client_id=invoicesync"
    "&redirect_uri=https%3A%2F%2Fapi.invoicesync.example%2Fv1%2Foauth%2Fcallback"
    "&response_type=code&state=Xq0rT4vW8yB2nM6kP9sD1fG3hJ5lZ7cV-aE_uI0oRwY",
    "counts": {},
}
LEXWARE_ACTIVE: dict[str, Any] = {
    **LEXWARE_PENDING,
    "status": "active",
    "settings": {
        "remote": {
            "organization_id": story.LEXWARE_ORGANIZATION_ID,
            "company_name": story.GERMAN_CLIENT_NAME,
            "tax_type": "net",
        }
    },
    "activated_at": "2026-11-18T11:21:15Z",
    "authorize_url": None,
}
LEXWARE_SMALL_BUSINESS: dict[str, Any] = {
    **LEXWARE_PENDING,
    "status": "error",
    "status_reason": "The Lexware Office account is set up as a small business "
    "(Kleinunternehmer, no VAT); invoicesync cannot send invoices with VAT to it. Change the "
    "setting in Lexware Office or disconnect the integration.",
    "authorize_url": None,
}

DEACTIVATE_IN: dict[str, Any] = {"from_date": "2026-11-01"}
DEACTIVATED: dict[str, Any] = {
    "integration": {
        **EXACT_ACTIVE,
        "status": "deactivated",
        "status_reason": "Deactivated from 2026-11-01.",
        "deactivated_at": "2026-11-25T08:30:00Z",
    },
    "documents_reset": 12,
}
RELINK_SAME: dict[str, Any] = {}
RELINK_NEW_JOURNALS: dict[str, Any] = {
    "settings": {**EXACT_SETTINGS, "sales_journal": "71", "credit_note_journal": "72"}
}
PATCH_NIGHTLY: dict[str, Any] = {"nightly_sync": True, "nightly_hour": 4}
PATCH_JOURNALS: dict[str, Any] = {"settings": {"sales_journal": "71"}}
RESUMED: dict[str, Any] = {"integration": EXACT_ACTIVE, "documents_requested": 47}
REFRESHED: dict[str, Any] = {"integration_id": story.EXACT_ID, "results_emitted": 2}
REPAIR_DEFAULT: dict[str, Any] = {}
REPAIR_FROM: dict[str, Any] = {"from_date": "2026-10-01"}
REPAIRED: dict[str, Any] = {
    "from_date": "2026-11-01",
    "documents_reset": 12,
    "integration": EXACT_ACTIVE,
    "sync_run": REPAIR_RUN_STARTED,
    "steps": [
        "deactivated from 2026-11-01: 12 documents reset",
        "relinked with the same settings; customer links kept",
        f"sync run {story.REPAIR_RUN_ID} started for 12 documents",
    ],
}

CREATE_BODIES: dict[str, Example] = {
    "exact": named("Exact Online", EXACT_IN),
    "lexware": named("Lexware Office", LEXWARE_IN, "The account is chosen when access is allowed."),
    "yuki": named("Yuki", YUKI_IN, "The access key is checked at once."),
}
CREATED: dict[str, Example] = {
    "exact": named("Exact Online: open authorize_url to allow access", EXACT_PENDING),
    "lexware": named("Lexware Office: open authorize_url to allow access", LEXWARE_PENDING),
    "yuki": named("Yuki: checked and active", YUKI_ACTIVE),
}
LISTED: dict[str, Example] = {
    "two_systems": named("Exact Online and Yuki for one client", [EXACT_ACTIVE, YUKI_ACTIVE]),
}
PATCHED: dict[str, Example] = {
    "nightly": named(
        "Nightly sync at 04:00", {**EXACT_ACTIVE, "nightly_sync": True, "nightly_hour": 4}
    ),
    "journals": named(
        "Another sales journal, checked in Exact",
        {**EXACT_ACTIVE, "settings": {**EXACT_ACTIVE["settings"], "sales_journal": "71"}},
    ),
}
RECONNECTING: dict[str, Example] = {
    "exact": named(
        "Exact: open authorize_url to allow access again",
        {
            **EXACT_ACTIVE,
            "status": "needs_reauthorization",
            "status_reason": "Old refresh token used.",
            "authorize_url": EXACT_PENDING["authorize_url"],
        },
    ),
}
AUTHORIZED: dict[str, Example] = {
    "active": named("Access allowed and checked", EXACT_ACTIVE),
    "lexware_active": named("Lexware Office: the organisation found", LEXWARE_ACTIVE),
    "journal_missing": named("Exact: a configured journal does not exist", EXACT_JOURNAL_MISSING),
    "small_business": named(
        "Lexware: a small-business account takes no VAT", LEXWARE_SMALL_BUSINESS
    ),
}
