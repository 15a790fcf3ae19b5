"""Webhook callbacks for event subscriptions, signed like Lexware's (RSA-SHA512, base64).

Deliveries run as background tasks with Lexware's retry schedule (scaled by the sandbox
clock); failures never reach the request that caused the event.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import deque
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.lexware.store import Organisation, Subscription, iso

log = logging.getLogger(__name__)

RETRY_DELAYS = (10.0, 20.0, 40.0, 80.0, 160.0)
READ_TIMEOUT = 5.0
EVENT_TYPES = frozenset(
    [
        f"{r}.{e}"
        for r in ("article", "contact", "dunning", "recurring-template")
        for e in ("created", "changed", "deleted")
    ]
    + [
        f"{r}.{e}"
        for r in (
            "credit-note",
            "delivery-note",
            "down-payment-invoice",
            "invoice",
            "order-confirmation",
            "quotation",
            "voucher",
        )
        for e in ("created", "changed", "deleted", "status.changed")
    ]
    + ["payment.changed", "token.revoked"]
)


class Signer:
    """The sandbox's key pair; the public half is served on the control plane."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, body: bytes) -> str:
        signature = self._key.sign(body, padding.PKCS1v15(), hashes.SHA512())
        return base64.b64encode(signature).decode()

    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


class Dispatcher:
    """Sends callbacks for an organisation's matching subscriptions."""

    def __init__(self, clock: Clock, signer: Signer) -> None:
        self.clock = clock
        self.signer = signer
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=500)
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, org: Organisation, event_type: str, resource_id: str) -> None:
        """Queue one callback per subscription to ``event_type``; never blocks or raises."""
        subs = [s for s in org.subscriptions.values() if s.event_type == event_type]
        if not subs:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        payload = {
            "organizationId": org.id,
            "eventType": event_type,
            "resourceId": resource_id,
            "eventDate": iso(self.clock.now()),
        }
        for sub in subs:
            task = loop.create_task(self._deliver(org, sub, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, org: Organisation, sub: Subscription, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Lxo-Signature": self.signer.sign(body)}
        record = {"subscriptionId": sub.id, **payload, "attempts": 0, "status": None}
        self.deliveries.append(record)
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay / max(self.clock.scale, 1e-6))
            if sub.id not in org.subscriptions:
                return
            status = await self._post(sub.callback_url, body, headers)
            record["attempts"] += 1
            record["status"] = status
            if status is not None and 200 <= status < 300:
                return
            if status == 410:  # gone: Lexware drops the subscription at once
                org.subscriptions.pop(sub.id, None)
                return

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int | None:
        try:
            async with httpx.AsyncClient(
                timeout=READ_TIMEOUT, follow_redirects=True, max_redirects=3
            ) as client:
                response = await client.post(url, content=body, headers=headers)
                return response.status_code
        except httpx.HTTPError as exc:
            log.debug("lexware callback to %s failed: %s", url, exc)
            return None
