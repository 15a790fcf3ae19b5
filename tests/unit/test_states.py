"""The public schemas list the states as ``Literal`` values (so the OpenAPI and AsyncAPI
documents stay as published); they must list exactly the shared enums' values."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, get_args

from invoicesync_api.documents.schemas import DocumentIn, DocumentOut, SyncStateOut
from invoicesync_api.integrations.schemas import IntegrationOut
from invoicesync_api.reconciliations.schemas import ReconciliationOut
from invoicesync_api.sync.schemas import SyncRunOut
from invoicesync_shared.events.integrations import IntegrationConnectionLost
from invoicesync_shared.states import DocumentStatus, IntegrationStatus, RunStatus, SyncStatus


def _values(annotation: Any) -> set[str]:
    return set(get_args(annotation))


def _all(enum: type[StrEnum]) -> set[str]:
    return {member.value for member in enum}


def test_integration_status_schema_lists_every_status() -> None:
    assert _values(IntegrationOut.model_fields["status"].annotation) == _all(IntegrationStatus)


def test_connection_lost_reports_only_broken_statuses() -> None:
    reported = _values(IntegrationConnectionLost.model_fields["status"].annotation)
    assert reported == {IntegrationStatus.NEEDS_REAUTHORIZATION, IntegrationStatus.ERROR}


def test_sync_status_schema_lists_every_status() -> None:
    assert _values(SyncStateOut.model_fields["status"].annotation) == _all(SyncStatus)


def test_document_status_schemas_list_every_status() -> None:
    for model in (DocumentIn, DocumentOut):
        assert _values(model.model_fields["status"].annotation) == _all(DocumentStatus)


def test_run_status_schemas_list_the_run_statuses() -> None:
    assert _values(ReconciliationOut.model_fields["status"].annotation) == _all(RunStatus)
    # A sync run always finishes (its documents' failures are counted, not the run's).
    sync_run = _values(SyncRunOut.model_fields["status"].annotation)
    assert sync_run == _all(RunStatus) - {RunStatus.FAILED}


def test_members_are_their_stored_strings() -> None:
    assert json.dumps({"status": IntegrationStatus.ACTIVE}) == '{"status": "active"}'
    assert f"{SyncStatus.AMBIGUOUS}" == "ambiguous"
    assert "booked" in {SyncStatus.BOOKED}  # rows read back as plain strings match
