"""``/v1/event-subscriptions``: register, list and delete webhook callbacks.

Create answers with an action result (``id``); reads use ``subscriptionId`` as Lexware does.
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Body, Depends, Response

from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.errors import (
    LexwareError,
    Violation,
    not_found,
    validation_error,
)
from invoicesync_sandbox.lexware.events import EVENT_TYPES
from invoicesync_sandbox.lexware.store import Subscription, iso, new_id


def _view(sub: Subscription) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "organizationId": sub.organization_id,
        "createdDate": iso(sub.created),
        "eventType": sub.event_type,
        "callbackUrl": sub.callback_url,
    }


def _validate(body: dict[str, Any]) -> tuple[str, str]:
    event_type = str(body.get("eventType") or "").lower()
    callback = str(body.get("callbackUrl") or "")
    problems = []
    if event_type not in EVENT_TYPES:
        problems.append(Violation("eventType", "NOTVALID", "unknown event type"))
    parsed = urlparse(callback)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(Violation("callbackUrl", "NOTVALID", "must be an absolute URL"))
    if problems:
        raise validation_error(problems, status=400)
    return event_type, callback


def register(router: APIRouter, env: Env) -> None:
    CallerDep = Annotated[Caller, Depends(env.caller)]

    @router.post("/v1/event-subscriptions", status_code=201)
    async def create(
        caller: CallerDep, response: Response, body: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        event_type, callback = _validate(body)
        org = caller.org
        with env.store.lock:
            if any(
                s.event_type == event_type and s.callback_url == callback
                for s in org.subscriptions.values()
            ):
                raise LexwareError(409, "Event subscription already exists.")
            sub = Subscription(new_id(), org.id, event_type, callback, env.now())
            org.subscriptions[sub.id] = sub
        response.headers["Location"] = env.resource_uri(f"event-subscriptions/{sub.id}")
        return env.action_result("event-subscriptions", sub.id, sub.created, sub.created, 0)

    @router.get("/v1/event-subscriptions")
    async def list_all(caller: CallerDep) -> dict[str, Any]:
        return {"content": [_view(s) for s in caller.org.subscriptions.values()]}

    @router.get("/v1/event-subscriptions/{subscription_id}")
    async def get_one(caller: CallerDep, subscription_id: str) -> dict[str, Any]:
        sub = caller.org.subscriptions.get(subscription_id)
        if sub is None:
            raise not_found("event subscription")
        return _view(sub)

    @router.delete("/v1/event-subscriptions/{subscription_id}", status_code=204)
    async def delete(caller: CallerDep, subscription_id: str) -> Response:
        if caller.org.subscriptions.pop(subscription_id, None) is None:
            raise not_found("event subscription")
        return Response(status_code=204)
