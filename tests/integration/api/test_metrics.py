"""/metrics counts requests by route template (bounded labels), in Prometheus format."""

from __future__ import annotations

import httpx

from invoicesync_api.app import metrics_app
from tests.integration.api.conftest import invoice
from tests.support.servers import serve_in_thread


def test_requests_are_counted_by_route_template(
    api_url: str, partner: httpx.Client, client_id: str
) -> None:
    created = partner.post("/v1/invoices", json=invoice(client_id, number="MET-1")).json()["id"]
    partner.get(f"/v1/invoices/{created}")
    with serve_in_thread(metrics_app()) as metrics_url:
        text = httpx.get(f"{metrics_url}/metrics").text
    assert (
        'invoicesync_http_requests_total{method="GET",route="/v1/invoices/{document_id}",status="200"}'
        in text
    )
    assert created not in text
    assert "invoicesync_outbox_oldest_age_seconds" in text
