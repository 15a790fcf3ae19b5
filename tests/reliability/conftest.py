"""The whole system as real processes on a broker the tests own (so they can restart it),
with a second replica of the Exact and Yuki connectors, and a partner to drive it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.broker_control import ControlledBroker
from tests.support.chaos import skewed_clock_env, start_replica

# A database of each module's own: what earlier tests left behind (integrations of sandboxes
# that are gone, documents still pending) must not be swept into its stack.
from tests.support.databases import own_database_url, own_engine  # noqa: F401
from tests.support.processes import Stack, running_stack

# Short timeouts, so "timeout" faults are real client timeouts and recovery is quick.
CHAOS_ENV = {
    # Lexware's callbacks bring finalised drafts at once; a poll each second would spend
    # half of every organisation's 2 requests/s (it did, at 10,000 documents).
    "INVOICESYNC_LEXWARE_POLL_INTERVAL_SECONDS": "30",
    "INVOICESYNC_SWEEPER_PENDING_SECONDS": "20",
    "INVOICESYNC_SWEEPER_INTERVAL_SECONDS": "2",
    # A request still unanswered after 5 minutes while its connector answers others is
    # asked again (an hour in production): the run must not end before the re-ask.
    "INVOICESYNC_SWEEPER_OVERDUE_SECONDS": "300",
    "INVOICESYNC_SANDBOX_FAULT_HANG_SECONDS": "6",
    "INVOICESYNC_EXACT_TIMEOUT_SECONDS": "5",
    "INVOICESYNC_LEXWARE_TIMEOUT_SECONDS": "5",
    "INVOICESYNC_YUKI_TIMEOUT_SECONDS": "5",
    # A lease shorter than the waits for a spent Exact minute (up to 60 s), which the
    # run provokes while a replica restarts: a push must never outlive its lease unnoticed.
    "INVOICESYNC_LEDGER_LEASE_SECONDS": "30",
    # Timeouts of 5 s and settle times of 3 s keep a sound push of six attempts well below
    # 10 minutes (a Yuki outage included); one held past it is stopped
    # and logged ("push overdue") instead of holding its client's documents.
    "INVOICESYNC_PUSH_DEADLINE_SECONDS": "600",
}


@pytest.fixture(scope="module")
def chaos_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlledBroker]:
    broker = ControlledBroker(Path(tmp_path_factory.mktemp("broker")) / "broker.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def chaos_stack(
    database_url: str,
    chaos_broker: ControlledBroker,
    encryption_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    with running_stack(
        database_url=database_url,
        bootstrap=chaos_broker.bootstrap,
        encryption_key=encryption_key,
        log_dir=Path(tmp_path_factory.mktemp("logs")),
        extra_env=CHAOS_ENV,
    ) as stack:
        start_replica(stack, "exact")
        # One replica's clock runs two minutes ahead: leases must be measured on the
        # database's clock, never the host's.
        start_replica(stack, "yuki", skewed_clock_env())
        yield stack


def new_partner_key(stack: Stack) -> str:
    created = httpx.post(
        f"{stack.api_url}/admin/v1/partners",
        json={"name": f"Partner {uuid.uuid4().hex[:6]}"},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])
