"""The webhook dispatcher: claims due deliveries, POSTs them signed (Standard Webhooks),
stores every attempt, schedules retries and disables endpoints that keep failing.

A claim is a token and a lease on the database's clock, longer than the batch can take
(each send is bounded as a whole by the timeout; see ``WebhookSettings.claim_lease_seconds``).
Only the holder of the token records an attempt, so an attempt is counted once even if a
claim lapsed (a stalled process) and another dispatcher took the delivery; and a send that
could no longer end within the lease is not started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from invoicesync_api.i18n import webhook_reasons as reasons
from invoicesync_api.i18n.catalog import render
from invoicesync_api.webhooks import repository, service
from invoicesync_api.webhooks.models import (
    DELIVERED,
    ENABLED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from invoicesync_api.webhooks.settings import WebhookSettings
from invoicesync_api.webhooks.url_policy import UrlRefused, check_url
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox

log = structlog.get_logger()

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The shared clock's time: due dates are set by the same clock (webhooks/service.py)."""
    return clock.now()


def signed_headers(
    event_id: str, body: str, at: datetime, secrets: Sequence[str]
) -> dict[str, str]:
    """webhook-id/-timestamp/-signature; one ``v1,…`` signature per secret, space separated."""
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "invoicesync-webhooks/1.0",
    }


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what sending needs; the secrets live only in memory."""

    delivery_id: uuid.UUID
    claim_token: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    event_id: str
    payload: dict[str, Any]
    secrets: list[str] = field(repr=False)


@dataclass(frozen=True)
class Claim:
    """A batch of jobs, held until ``deadline`` (this host's monotonic clock, started
    before the database's lease was: it never ends later than the lease)."""

    jobs: list[Job]
    deadline: float


@dataclass(frozen=True)
class Outcome:
    job: Job
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None

    @property
    def is_success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _read_limited(response: httpx.Response, limit: int) -> str:
    """At most ``limit`` characters of the receiver's answer: enough to debug, no more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks).decode("utf-8", "replace")[:limit]


class WebhookDispatcher:
    """``run()`` loops until ``stop()``; ``deliver_due()`` is one iteration (tests call it).

    ``clock`` is the time used for due dates, backoff, grace and disabling; tests pass a
    shifted clock instead of sleeping. The webhook-timestamp header is the real time of
    sending, whatever the clock: receivers compare it with theirs.
    ``elapsed`` measures how much of a claim's lease is spent; tests move it to stand for
    a process that stalled.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        settings: WebhookSettings,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._box = box
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._transport = transport
        self._elapsed = elapsed
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("webhook dispatch failed")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), self._settings.poll_interval_seconds
                    )

    def stop(self) -> None:
        self._stopping.set()

    async def deliver_due(self) -> int:
        """Attempt one batch of due deliveries; returns how many attempts were made."""
        claim = await self._claim()
        if not claim.jobs:
            return 0
        limit = asyncio.Semaphore(self._settings.concurrency)
        timeout = self._settings.timeout_seconds
        async with httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,  # a redirect could point into our own network
            transport=self._transport,
        ) as http:

            async def send(job: Job) -> Outcome | Job:
                async with limit:
                    if self._elapsed() + timeout > claim.deadline:
                        return job  # it could outlive the claim: left to the next one
                    return await self._send(http, job)

            results = await asyncio.gather(*(send(job) for job in claim.jobs))
        outcomes = [r for r in results if isinstance(r, Outcome)]
        unsent = [r for r in results if isinstance(r, Job)]
        if unsent:
            log.warning("webhook claim ran short; deliveries left for later", unsent=len(unsent))
        await self._record(outcomes, unsent)
        return len(outcomes)

    async def _claim(self) -> Claim:
        now = self._clock()
        lease = self._settings.claim_lease_seconds
        token = uuid.uuid4()
        deadline = self._elapsed() + lease
        async with self._sessionmaker.begin() as session:
            rows = await repository.claim_due(
                session, now, limit=self._settings.batch_size, token=token, lease_seconds=lease
            )
            jobs = []
            for delivery, endpoint in rows:
                try:
                    secrets = service.signing_secrets(self._box, endpoint, now)
                except ValueError:  # keys rotated away from it: the others still go out
                    log.error(
                        "webhook endpoint's secret cannot be decrypted with the configured "
                        "keys; its deliveries wait (claimed again after the lease)",
                        endpoint_id=str(endpoint.id),
                    )
                    continue
                jobs.append(
                    Job(
                        delivery_id=delivery.id,
                        claim_token=token,
                        endpoint_id=endpoint.id,
                        url=endpoint.url,
                        event_id=delivery.event_id,
                        payload=delivery.payload,
                        secrets=secrets,
                    )
                )
        return Claim(jobs, deadline)

    async def _send(self, http: httpx.AsyncClient, job: Job) -> Outcome:
        at = self._clock()
        started = time.monotonic()

        def outcome(**result: Any) -> Outcome:
            elapsed = int((time.monotonic() - started) * 1000)
            return Outcome(job=job, attempted_at=at, duration_ms=elapsed, **result)

        body = json.dumps(job.payload, separators=(",", ":"))
        try:
            # The timeout bounds the whole attempt (a receiver trickling its answer byte by
            # byte included): the claim's lease is counted in whole timeouts.
            async with asyncio.timeout(self._settings.timeout_seconds):
                # Again before each attempt: DNS may have changed since the URL was accepted.
                await check_url(
                    job.url,
                    allow_private=self._settings.allow_private_urls,
                    allow_loopback=self._settings.allow_loopback_urls,
                )
                # Signed at the real time of sending, not by the (perhaps moved) shared clock:
                # the receiver checks it against its own clock (Standard Webhooks: 5 min).
                headers = signed_headers(job.event_id, body, datetime.now(UTC), job.secrets)
                async with http.stream("POST", job.url, content=body, headers=headers) as response:
                    text = await _read_limited(response, self._settings.max_response_body_chars)
        except UrlRefused as exc:
            return outcome(error=exc.detail)
        except (httpx.TimeoutException, TimeoutError):
            return outcome(error=f"timed out after {self._settings.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return outcome(error=f"{type(exc).__name__}: {exc}"[:500])
        return outcome(status_code=response.status_code, response_body=text)

    async def _record(self, outcomes: Sequence[Outcome], unsent: Sequence[Job]) -> None:
        """Record what this claim still holds, and let the deliveries go."""
        async with self._sessionmaker.begin() as session:
            # Endpoints before deliveries: the same lock order as the routes.
            endpoints = await repository.lock_endpoints(
                session, sorted({o.job.endpoint_id for o in outcomes})
            )
            deliveries = await repository.lock_deliveries(
                session, [o.job.delivery_id for o in outcomes] + [j.delivery_id for j in unsent]
            )
            for job in unsent:
                delivery = deliveries.get(job.delivery_id)
                if delivery is not None and delivery.claim_token == job.claim_token:
                    delivery.claim_token = delivery.claimed_until = None
            for o in outcomes:
                delivery = deliveries.get(o.job.delivery_id)
                endpoint = endpoints.get(o.job.endpoint_id)
                if delivery is None or endpoint is None:  # deleted meanwhile
                    continue
                if delivery.claim_token != o.job.claim_token:
                    # The claim lapsed and another dispatcher took the delivery: its
                    # attempt is the one that counts.
                    log.warning(
                        "webhook attempt not recorded: the claim was taken over",
                        delivery_id=str(delivery.id),
                    )
                    continue
                delivery.claim_token = delivery.claimed_until = None
                await self._apply(session, delivery, endpoint, o)

    async def _apply(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        o: Outcome,
    ) -> None:
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=o.attempted_at,
                status_code=o.status_code,
                error=o.error,
                response_body=o.response_body,
                duration_ms=o.duration_ms,
            )
        )
        delivery.attempts += 1
        delivery.last_attempt_at = o.attempted_at
        delivery.last_status_code = o.status_code
        delivery.last_error = o.error
        delivery.last_response_body = o.response_body
        log.info(
            "webhook attempt",
            delivery_id=str(delivery.id),
            endpoint_id=str(endpoint.id),
            event_id=delivery.event_id,
            status_code=o.status_code,
            attempt=delivery.attempts,
        )
        if o.is_success:
            delivery.status, delivery.delivered_at = DELIVERED, o.attempted_at
            delivery.next_attempt_at = None
            service.reset_failures(endpoint)
            return
        self._count_failure(delivery, endpoint, o.attempted_at)
        reason = self._disable_reason(endpoint, o.attempted_at)
        if reason is not None and endpoint.status == ENABLED:
            log.warning("webhook endpoint disabled", endpoint_id=str(endpoint.id))
            await service.disable(session, endpoint, reason, o.attempted_at, notify=True)

    def _count_failure(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, at: datetime
    ) -> None:
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or at
        if delivery.status != PENDING:  # canceled while the attempt ran
            return
        if delivery.attempts >= (delivery.max_attempts or self._settings.max_attempts):
            delivery.status, delivery.next_attempt_at = FAILED, None
            endpoint.failed_deliveries_in_row += 1
        else:
            delivery.next_attempt_at = at + self._backoff(delivery.attempts)

    def _backoff(self, attempts: int) -> timedelta:
        """The scheduled delay after attempt ``attempts``, scaled by a random 1 ± jitter."""
        schedule = self._settings.retry_schedule
        delay = schedule[min(attempts, len(schedule)) - 1] if schedule else 0.0
        jitter = self._settings.jitter
        return timedelta(seconds=delay * (1 + self._rng.uniform(-jitter, jitter)))

    def _disable_reason(self, endpoint: WebhookEndpoint, now: datetime) -> str | None:
        settings = self._settings
        if endpoint.failed_deliveries_in_row >= settings.disable_after_failed_deliveries:
            return render(
                "en", reasons.FAILED_DELIVERIES, {"count": endpoint.failed_deliveries_in_row}
            )
        failing_for = timedelta(hours=settings.disable_after_failing_hours)
        if endpoint.failing_since is not None and now - endpoint.failing_since >= failing_for:
            hours = f"{settings.disable_after_failing_hours:g}"
            return render("en", reasons.FAILING_HOURS, {"hours": hours})
        return None
