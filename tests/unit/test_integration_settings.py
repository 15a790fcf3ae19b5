"""Integration settings: one model per system, picked by the system; the API's rules for
what a user sends; the stored JSON read back by a connector; and the runtime handing a
connector its own model, never a dict."""

from __future__ import annotations

import uuid
from datetime import date
from types import TracebackType
from typing import Any, cast

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors import ledger as ledger_module
from invoicesync_shared.connectors import runtime as runtime_module
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.integration_settings import (
    SETTINGS_MODELS,
    ExactSettings,
    IntegrationSettings,
    LexwareSettings,
    YukiSettings,
)
from tests.support.producers import RecordingProducer

ANY_SYSTEM: TypeAdapter[IntegrationSettings] = TypeAdapter(IntegrationSettings)
EXACT = {
    "division": 1234567,
    "sales_journal": "70",
    "credit_note_journal": "71",
    "start_date": "2026-01-01",
}
YUKI = {"access_key": "key-of-the-user", "administration_id": "Adm-1", "start_date": None}


class TestTheUnion:
    @pytest.mark.parametrize(
        ("system", "settings", "model"),
        [
            ("exact", EXACT, ExactSettings),
            ("lexware", {"start_date": "2026-02-01"}, LexwareSettings),
            ("yuki", {"administration_id": "Adm-1"}, YukiSettings),
        ],
    )
    def test_the_system_picks_the_model(
        self, system: str, settings: dict[str, Any], model: type[object]
    ) -> None:
        parsed = ANY_SYSTEM.validate_python({"system": system, **settings})
        assert type(parsed) is model
        assert parsed.system == system
        assert SETTINGS_MODELS[system] is model

    def test_settings_under_another_system_are_refused(self) -> None:
        with pytest.raises(ValidationError) as refused:
            ANY_SYSTEM.validate_python({"system": "lexware", **EXACT})
        assert {e["loc"][:2] for e in refused.value.errors()} == {
            ("lexware", "division"),
            ("lexware", "sales_journal"),
            ("lexware", "credit_note_journal"),
        }

    def test_an_unknown_system_is_refused(self) -> None:
        with pytest.raises(ValidationError) as refused:
            ANY_SYSTEM.validate_python({"system": "sap", **EXACT})
        assert [e["type"] for e in refused.value.errors()] == ["union_tag_invalid"]

    @pytest.mark.parametrize(
        "built",
        [
            ExactSettings.from_user(EXACT),
            LexwareSettings.stored({"remote": {"organization_id": "org-9"}}),
            YukiSettings.from_user(YUKI),
        ],
    )
    def test_settings_already_read_pass_through_as_themselves(
        self, built: ExactSettings | LexwareSettings | YukiSettings
    ) -> None:
        """A model (not a dict) tells its system by its tag, so it is not read as another."""
        passed = ANY_SYSTEM.validate_python(built)
        assert type(passed) is type(built)
        assert passed == built

    def test_a_value_that_is_no_settings_is_refused_for_its_missing_system(self) -> None:
        with pytest.raises(ValidationError) as refused:
            ANY_SYSTEM.validate_python("exact")
        assert [e["type"] for e in refused.value.errors()] == ["union_tag_not_found"]


class TestWhatAUserSends:
    @pytest.mark.parametrize(
        ("model", "raw", "loc", "kind"),
        [
            (YukiSettings, {"administration_id": "Adm-1"}, ("access_key",), "missing"),
            (LexwareSettings, {"remote": {"organization_id": "o"}}, ("remote",), "extra_forbidden"),
            (ExactSettings, {**EXACT, "system": "exact"}, ("system",), "extra_forbidden"),
            (ExactSettings, {**EXACT, "divison": 1}, ("divison",), "extra_forbidden"),
            (
                ExactSettings,
                {**EXACT, "sales_journal": "7\x000"},
                ("sales_journal",),
                "value_error",
            ),
        ],
    )
    def test_is_refused_as_before(
        self,
        model: type[ExactSettings | LexwareSettings | YukiSettings],
        raw: dict[str, Any],
        loc: tuple[str, ...],
        kind: str,
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            model.from_user(raw)
        assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(loc, kind)]

    def test_the_access_key_is_kept_out_of_the_json_and_the_repr(self) -> None:
        settings = YukiSettings.from_user(YUKI)
        assert settings.model_dump(mode="json") == {
            "administration_id": "Adm-1",
            "default_gl_account": None,
            "start_date": None,
        }
        assert "key-of-the-user" not in repr(settings) + str(settings)
        assert settings.secrets() == {"access_key": "key-of-the-user"}
        assert ExactSettings.from_user(EXACT).secrets() == {}


class TestWhatAConnectorReads:
    def test_the_stored_json_reads_back_as_what_the_user_set(self) -> None:
        sent = ExactSettings.from_user(EXACT)
        stored = {**sent.model_dump(mode="json"), "remote": {"division": 1234567}}
        assert ExactSettings.stored(stored) == sent
        assert ExactSettings.stored(stored).start_date == date(2026, 1, 1)

    def test_keys_a_newer_api_added_are_left_out(self) -> None:
        assert ExactSettings.stored({**EXACT, "added_later": True}) == ExactSettings(
            division=1234567,
            sales_journal="70",
            credit_note_journal="71",
            start_date=date(2026, 1, 1),
        )

    def test_yuki_reads_without_the_key_kept_with_the_credentials(self) -> None:
        stored = YukiSettings.from_user(YUKI).model_dump(mode="json")
        read = YukiSettings.stored(stored)
        assert read.access_key is None
        assert read.administration_id == "Adm-1"

    def test_yuki_reads_its_key_typed_from_the_decrypted_credentials(self) -> None:
        stored = YukiSettings.stored(YukiSettings.from_user(YUKI).model_dump(mode="json"))
        read = stored.with_secrets({"access_key": "key-of-the-user", "access_token": "x"})
        assert read.access_key is not None
        assert read.access_key.get_secret_value() == "key-of-the-user"
        assert read.administration_id == "Adm-1"
        assert "key-of-the-user" not in repr(read)
        assert stored.with_secrets({}).access_key is None

    def test_a_system_tag_in_the_stored_json_does_not_choose_the_model(self) -> None:
        """The integration's system picks the model; a ``system`` key left in its JSON (by
        hand, or an older API) is not a setting."""
        stored = YukiSettings.from_user(YUKI).model_dump(mode="json")
        read = YukiSettings.stored({**stored, "system": "exact"})
        assert (read.system, read.administration_id) == ("yuki", "Adm-1")

    def test_a_system_key_among_the_credentials_is_left_out(self) -> None:
        stored = YukiSettings.stored(YukiSettings.from_user(YUKI).model_dump(mode="json"))
        read = stored.with_secrets({"access_key": "key-of-the-user", "system": "exact"})
        assert read.system == "yuki"
        assert read.access_key is not None
        assert read.access_key.get_secret_value() == "key-of-the-user"

    def test_secrets_put_back_keep_what_verify_found(self) -> None:
        verified = LexwareSettings.stored({"remote": {"organization_id": "org-9"}})
        assert verified.with_secrets({"access_token": "x"}) == verified

    def test_lexware_reads_the_organisation_verify_found(self) -> None:
        assert LexwareSettings.stored({}).organization_id is None
        verified = {"remote": {"organization_id": "org-9", "company_name": "GmbH"}}
        assert LexwareSettings.stored(verified).organization_id == "org-9"


class _OneIntegration:
    """Sessions that hold one integration row (what ``verify`` reads)."""

    def __init__(self, integration: Integration) -> None:
        self._integration = integration

    def __call__(self) -> _OneIntegration:
        return self

    async def __aenter__(self) -> _OneIntegration:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def get(self, model: type[Integration], key: uuid.UUID) -> Integration | None:
        return self._integration if key == self._integration.id else None


async def test_the_runtime_hands_a_connector_its_systems_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stand-in serves the runtime's one-statement (AUTOCOMMIT) sessions too.
    for module in (runtime_module, ledger_module):
        monkeypatch.setattr(module, "standalone", lambda sessions: sessions)
    integration = Integration(
        id=uuid.uuid4(), system="exact", status="active", settings={**EXACT, "remote": {}}
    )
    fake = FakeConnector(settings_model=ExactSettings)
    # A stand-in with the one method verify uses; the runtime's pushes are tested on
    # PostgreSQL (tests/integration/runtime/test_typed_settings.py).
    sessions = cast(async_sessionmaker[AsyncSession], _OneIntegration(integration))
    runtime = ConnectorRuntime(fake, sessionmaker=sessions, producer=RecordingProducer())
    assert await runtime.verify(integration.id) == {"fake": True}
    (handed,) = fake.settings_seen
    assert isinstance(handed, ExactSettings)
    assert (handed.division, handed.sales_journal) == (1234567, "70")
