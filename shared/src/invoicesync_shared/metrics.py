"""Prometheus metrics shared by the services (each process serves them at /metrics)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response


async def metrics_endpoint(_: Request) -> Response:
    """/metrics at its exact path (a mounted app would redirect to /metrics/)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


HTTP_REQUESTS = Counter(
    "invoicesync_http_requests_total", "API requests", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "invoicesync_http_request_duration_seconds", "API request duration", ["method", "route"]
)
PUSH_SECONDS = Histogram(
    "invoicesync_push_duration_seconds",
    "One push to the accounting system",
    ["system"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
)
SYNC_FAILURES = Counter(
    "invoicesync_sync_failures_total", "Failed pushes by code", ["system", "code"]
)
VENDOR_CALLS = Counter(
    "invoicesync_vendor_calls_total", "Requests sent to an accounting system", ["system", "method"]
)
TOKEN_REFRESHES = Counter(
    "invoicesync_token_refreshes_total",
    "Access tokens a token endpoint issued on a refresh (Exact rotates its refresh token)",
    ["system"],
)
VENDOR_RATE_LIMITED = Counter(
    "invoicesync_vendor_rate_limited_total", "429 answers from an accounting system", ["system"]
)
RATE_BUDGET = Gauge(
    "invoicesync_rate_budget_remaining",
    "Calls left in the window, as the system last said",
    ["system", "scope"],
)
OUTBOX_AGE = Gauge(
    "invoicesync_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0: none)"
)
OUTBOX_PUBLISHED = Counter("invoicesync_outbox_published_total", "Outbox rows published")
CONSUMER_LAG = Gauge(
    "invoicesync_consumer_lag", "Records behind the high watermark", ["group", "topic", "partition"]
)
HANDLER_FAILURES = Counter(
    "invoicesync_consumer_handler_failures_total", "Handler attempts that raised", ["group"]
)
