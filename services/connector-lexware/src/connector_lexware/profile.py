"""The organisation profile, and the small-business ("Kleinunternehmer") refusal.

A small business sends no VAT, so invoicesync's documents cannot be booked there. The
profile is asked at verify time and then at most once per cache period per organisation,
so the check costs no call per document of the 2 requests/second budget.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from connector_lexware.client import LexwareClient
from invoicesync_shared.connectors.errors import PermanentError

# English, as every connector message; the API writes it in the reader's language by its
# code, ``small_business`` (invoicesync_api.i18n.sync_errors).
SMALL_BUSINESS_MESSAGE = (
    "The Lexware Office account is set up as a small business (Kleinunternehmer, no VAT); "
    "invoicesync cannot send invoices with VAT to it. Change the setting in Lexware Office "
    "or disconnect the integration."
)


@dataclass(frozen=True)
class Profile:
    organization_id: str
    company_name: str
    tax_type: str
    small_business: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Profile:
        return cls(
            organization_id=str(body["organizationId"]),
            company_name=str(body.get("companyName") or ""),
            tax_type=str(body.get("taxType") or "net"),
            small_business=bool(body.get("smallBusiness")),
        )

    @property
    def is_small_business(self) -> bool:
        return self.small_business or self.tax_type == "vatfree"

    def check(self) -> None:
        """Raises ``PermanentError("small_business")`` for a VAT-free organisation."""
        if self.is_small_business:
            raise PermanentError("small_business", SMALL_BUSINESS_MESSAGE)


class Profiles:
    """Profiles per organisation, trusted for ``ttl`` seconds."""

    def __init__(self, client: LexwareClient, *, ttl: float) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Profile]] = {}

    async def fetch(self, integration_id: uuid.UUID, scope: str) -> Profile:
        """Always asks Lexware (verify), and refreshes the cache."""
        profile = Profile.from_json(await self._client.get(integration_id, scope, "v1/profile"))
        self._cache[profile.organization_id] = (time.monotonic(), profile)
        return profile

    async def current(self, integration_id: uuid.UUID, scope: str) -> Profile:
        cached = self._cache.get(scope)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        return await self.fetch(integration_id, scope)

    def forget(self, scope: str) -> None:
        self._cache.pop(scope, None)
