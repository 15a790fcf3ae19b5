"""Counterparties as Lexware contacts: stored link → search by name, then e-mail → create.

One class for both roles: a sales document's customer is a contact in the ``customer``
role (linked through ``ctx.customers``), a purchase document's supplier one in the
``vendor`` role (linked through ``ctx.suppliers``), so a supplier id equal to a customer
id stays a contact of its own. A counterparty not linked yet is searched for under its
advisory lock, so two documents (or replicas) never create the same contact twice; a
found or created contact is linked per organisation.
"""

from __future__ import annotations

from connector_lexware import mapping
from connector_lexware.client import LexwareClient
from connector_lexware.mapping import Role
from invoicesync_shared.connectors.customers import CustomerLinks, RemoteCustomer
from invoicesync_shared.connectors.preview import PreviewCustomer
from invoicesync_shared.connectors.protocol import PushContext
from invoicesync_shared.events.documents import CustomerData


class Contacts:
    def __init__(self, client: LexwareClient, role: Role = "customer") -> None:
        self._client = client
        self.role: Role = role

    def _links(self, ctx: PushContext) -> CustomerLinks:
        return ctx.suppliers if self.role == "supplier" else ctx.customers

    async def resolve(
        self, ctx: PushContext, scope: str, customer: CustomerData
    ) -> tuple[str, bool]:
        """The contact id for ``customer`` and whether it was created just now."""

        async def match_or_create() -> tuple[RemoteCustomer, bool]:
            if found := await self._search(ctx, scope, customer):
                return found, False
            payload = mapping.contact_payload(customer, self.role)
            body = await self._client.post(ctx.integration.id, scope, "v1/contacts", payload)
            return RemoteCustomer(str(body["id"])), True

        contact, created = await self._links(ctx).resolve(customer.external_id, match_or_create)
        return contact.remote_id, created

    async def preview(
        self, ctx: PushContext, scope: str, customer: CustomerData
    ) -> PreviewCustomer:
        """What ``resolve`` would use, found read-only; nothing is linked or created."""
        if link := await self._links(ctx).find(customer.external_id):
            return PreviewCustomer("linked", link.remote_id, link.code)
        if found := await self._search(ctx, scope, customer):
            return PreviewCustomer("matched", found.remote_id, found.code)
        return PreviewCustomer("would_create", payload=mapping.contact_payload(customer, self.role))

    async def find_linked(self, ctx: PushContext, customer: CustomerData) -> str | None:
        link = await self._links(ctx).find(customer.external_id)
        return link.remote_id if link else None

    async def _search(
        self, ctx: PushContext, scope: str, customer: CustomerData
    ) -> RemoteCustomer | None:
        for params in mapping.contact_searches(customer, self.role):
            rows, _ = await self._client.page(ctx.integration.id, scope, "v1/contacts", params, 0)
            if row := mapping.matching_contact(rows, customer):
                return RemoteCustomer(str(row["id"]), mapping.customer_number(row, self.role))
        return None
