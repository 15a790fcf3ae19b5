"""``/v1/contacts``: customers and vendors with numbers, filters and optimistic locking.

A create assigns ``roles.customer.number`` (10000 up) and ``roles.vendor.number`` (70000 up);
a PUT must carry the current ``version`` or gets 409.
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

import copy
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env, spring_page
from invoicesync_sandbox.lexware.errors import (
    LexwareError,
    Violation,
    bad_request,
    not_found,
    validation_error,
)
from invoicesync_sandbox.lexware.store import Contact, Organisation, new_id

FIELDS = (
    "company",
    "person",
    "addresses",
    "xRechnung",
    "emailAddresses",
    "phoneNumbers",
    "note",
    "archived",
)
ROLES = ("customer", "vendor")
MIN_FILTER = 3


def _check_party(body: dict[str, Any]) -> list[Violation]:
    company, person = body.get("company"), body.get("person")
    if bool(company) == bool(person):
        return [Violation("company", "NOTVALID", "exactly one of company or person is required")]
    if company and not str(company.get("name") or "").strip():
        return [Violation("company.name", "NOTNULL", "must not be empty")]
    if person and not str(person.get("lastName") or "").strip():
        return [Violation("person.lastName", "NOTNULL", "must not be empty")]
    return []


def _check(body: dict[str, Any]) -> None:
    problems = _check_party(body)
    roles = body.get("roles")
    if not isinstance(roles, dict) or not any(r in roles for r in ROLES):
        problems.append(Violation("roles", "NOTNULL", "customer and/or vendor role required"))
    for kind, addresses in (body.get("addresses") or {}).items():
        for i, address in enumerate(addresses or []):
            if not address.get("countryCode"):
                problems.append(
                    Violation(f"addresses.{kind}[{i}].countryCode", "NOTNULL", "must not be null")
                )
    if problems:
        raise validation_error(problems)


def _assign_roles(org: Organisation, wanted: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for role in ROLES:
        if role not in wanted:
            continue
        number = (old.get(role) or {}).get("number") or org.next_number(role)
        roles[role] = {"number": number}
    return roles


def _view(contact: Contact) -> dict[str, Any]:
    data = copy.deepcopy(contact.data)
    return {
        "id": contact.id,
        "organizationId": contact.organization_id,
        "version": contact.version,
        "roles": data.pop("roles"),
        **data,
        "archived": data.get("archived", False),
    }


def _display_name(contact: Contact) -> str:
    company = contact.data.get("company") or {}
    person = contact.data.get("person") or {}
    return company.get("name") or f"{person.get('firstName', '')} {person.get('lastName', '')}"


def _emails(contact: Contact) -> list[str]:
    groups = (contact.data.get("emailAddresses") or {}).values()
    return [e for group in groups for e in (group or [])]


def _text_filter(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.replace("%", "").strip().lower()
    if len(cleaned) < MIN_FILTER:
        raise bad_request(
            f"Filter {name} needs at least {MIN_FILTER} characters.",
            [Violation(name, "SIZE", f"size must be at least {MIN_FILTER}")],
        )
    return cleaned


def _matches(
    contact: Contact,
    email: str | None,
    name: str | None,
    number: int | None,
    customer: bool | None,
    vendor: bool | None,
) -> bool:
    roles = contact.data["roles"]
    if email and not any(email in e.lower() for e in _emails(contact)):
        return False
    if name and name not in _display_name(contact).lower():
        return False
    if number is not None and number not in [r.get("number") for r in roles.values()]:
        return False
    if customer is not None and ("customer" in roles) != customer:
        return False
    return vendor is None or ("vendor" in roles) == vendor


def register(router: APIRouter, env: Env) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]
    JsonBody = Annotated[dict[str, Any], Body()]

    @router.post("/v1/contacts", status_code=201)
    async def create(caller: CallerDep, body: JsonBody) -> dict[str, Any]:
        _check(body)
        org, now = caller.org, env.now()
        with env.store.lock:
            data = {k: copy.deepcopy(body[k]) for k in FIELDS if k in body}
            data["roles"] = _assign_roles(org, body["roles"], {})
            contact = Contact(new_id(), org.id, data, now, now)
            org.contacts[contact.id] = contact
        env.dispatcher.emit(org, "contact.created", contact.id)
        return env.action_result("contacts", contact.id, now, now, contact.version)

    @router.get("/v1/contacts")
    async def search(
        caller: CallerDep,
        email: str | None = None,
        name: str | None = None,
        number: int | None = None,
        customer: bool | None = None,
        vendor: bool | None = None,
        page: Annotated[int, Query(ge=0)] = 0,
        size: Annotated[int, Query(ge=1, le=250)] = 25,
    ) -> dict[str, Any]:
        email_f, name_f = _text_filter("email", email), _text_filter("name", name)
        rows = [
            _view(c)
            for c in list(caller.org.contacts.values())
            if _matches(c, email_f, name_f, number, customer, vendor)
        ]
        return spring_page(rows, page, size)

    @router.get("/v1/contacts/{contact_id}")
    async def get_one(caller: CallerDep, contact_id: str) -> dict[str, Any]:
        contact = caller.org.contacts.get(contact_id)
        if contact is None:
            raise not_found("contact")
        return _view(contact)

    @router.put("/v1/contacts/{contact_id}")
    async def update(caller: CallerDep, contact_id: str, body: JsonBody) -> dict[str, Any]:
        org = caller.org
        with env.store.lock:
            contact = org.contacts.get(contact_id)
            if contact is None:
                raise not_found("contact")
            if not isinstance(body.get("version"), int):
                raise validation_error([Violation("version", "NOTNULL", "must not be null")])
            if body["version"] != contact.version:
                raise LexwareError(409, "The contact was changed meanwhile (stale version).")
            _check(body)
            data = {k: copy.deepcopy(body[k]) for k in FIELDS if k in body}
            data["roles"] = _assign_roles(org, body["roles"], contact.data["roles"])
            contact.data, contact.updated = data, env.now()
            contact.version += 1
        env.dispatcher.emit(org, "contact.changed", contact.id)
        return env.action_result(
            "contacts", contact.id, contact.created, contact.updated, contact.version
        )
