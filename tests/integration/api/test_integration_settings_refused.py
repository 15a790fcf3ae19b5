"""Settings of the wrong shape for their system are refused by the API with the shared
per-system model: a 422 problem+json naming the field, nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import EXACT_SETTINGS

PROBLEM = "application/problem+json"
EXACT = EXACT_SETTINGS


@pytest.mark.parametrize(
    ("system", "settings", "field"),
    [
        ("exact", {**EXACT, "division": "seven"}, "settings.division"),
        (
            "exact",
            {k: v for k, v in EXACT.items() if k != "sales_journal"},
            "settings.sales_journal",
        ),
        ("exact", {**EXACT, "divison": 8}, "settings.divison"),
        ("lexware", EXACT, "settings.division"),
        ("lexware", {"remote": {"organization_id": "o"}}, "settings.remote"),
        ("yuki", {"administration_id": "Adm-1"}, "settings.access_key"),
        ("yuki", {"access_key": "k", "administration_id": ""}, "settings.administration_id"),
    ],
)
def test_settings_of_the_wrong_shape_are_refused_naming_the_field(
    partner: httpx.Client, client_id: str, system: str, settings: dict[str, Any], field: str
) -> None:
    path = f"/v1/clients/{client_id}/integrations"
    refused = partner.post(path, json={"system": system, "settings": settings})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["code"] == "unprocessable"
    assert f"Invalid {system} settings" in problem["detail"]
    assert f"{field}:" in problem["detail"], problem
    assert partner.get(path).json() == []


def test_a_patch_is_checked_with_the_systems_model_as_a_whole(
    partner: httpx.Client, client_id: str
) -> None:
    created = partner.post(
        f"/v1/clients/{client_id}/integrations", json={"system": "exact", "settings": EXACT}
    )
    assert created.status_code == 201, created.text
    path = f"/v1/integrations/{created.json()['id']}"
    refused = partner.patch(path, json={"settings": {"credit_note_journal": "x" * 11}})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert "settings.credit_note_journal:" in refused.json()["detail"]
    assert partner.get(path).json()["settings"]["credit_note_journal"] == "71"
