"""What an integration is configured with: one model per accounting system, a union
discriminated on the system. The API checks what a user sends with them and stores the
JSON; each system's connector reads that JSON back as its own model."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from invoicesync_shared.nul_free import NulFree

START_DATE = (
    "The first issue date this integration books: a document dated earlier is not sent "
    "to it (its sync state says so: failed, before_start_date)."
)
# The validation context of what a user sends, as opposed to what the API stored.
_FROM_USER = {"from_user": True}


def _from_user(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("from_user"))


class SettingsModel(NulFree):
    """One system's settings. Unknown keys are refused (a typo is an error, not silently
    lost), and so are NUL characters, which no text column can store. Each system's model
    has a ``system`` tag (the union's discriminator), left out of the stored JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("system", mode="before", check_fields=False)
    @classmethod
    def _not_sent(cls, value: Any, info: ValidationInfo) -> Any:
        # The system comes with the integration, not inside its settings. (This runs only
        # when the key is given: a default is not validated.)
        if _from_user(info):
            raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")
        return value

    @classmethod
    def from_user(cls, raw: Mapping[str, Any]) -> Self:
        """What a user sends on create, patch or relink: secrets included, and nothing
        the API writes itself (``remote``). Raises ``ValidationError``."""
        return cls.model_validate(raw, context=_FROM_USER)

    @classmethod
    def stored(cls, raw: Mapping[str, Any]) -> Self:
        """The settings as the API stored them: secrets kept apart (encrypted with the
        credentials), what verify found under ``remote``. Keys this model does not know
        are left out, as a newer API may have added one. Raises ``ValidationError``."""
        known = cls.model_fields.keys() - {"system"}
        return cls.model_validate({k: v for k, v in raw.items() if k in known})

    def secrets(self) -> dict[str, str]:
        """What the API encrypts with the credentials instead of storing it as JSON."""
        return {}

    def with_secrets(self, secrets: Mapping[str, Any]) -> Self:
        """These settings with the secrets the API encrypted (what ``secrets()`` gave,
        decrypted) put back, so a connector reads them typed too. Other keys of the
        credentials (OAuth tokens) are not settings and are left out. Raises
        ``ValidationError``."""
        known = type(self).model_fields.keys() - {"system"}
        fields = {name: getattr(self, name) for name in known}
        return self.model_validate({**fields, **{k: v for k, v in secrets.items() if k in known}})


class ExactSettings(SettingsModel):
    system: Literal["exact"] = Field(default="exact", exclude=True, repr=False)
    division: int = Field(examples=[1234567])
    sales_journal: str = Field(min_length=1, max_length=10, examples=["70"])
    credit_note_journal: str = Field(min_length=1, max_length=10, examples=["70"])
    # Purchase invoices, purchase credit notes and receipts; 60 is the purchase journal
    # every new Exact division starts with.
    purchase_journal: str = Field(default="60", min_length=1, max_length=10, examples=["60"])
    start_date: date = Field(examples=["2026-01-01"], description=START_DATE)
    default_gl_account: str | None = Field(default=None, max_length=20, examples=["8000"])


class LexwareVerified(BaseModel):
    """What verify found for Lexware Office (the API keeps it under ``remote``); only the
    organisation is read back, the rest is shown to the user as it came."""

    model_config = ConfigDict(extra="allow", frozen=True)

    organization_id: str | None = None


class LexwareSettings(SettingsModel):
    system: Literal["lexware"] = Field(default="lexware", exclude=True, repr=False)
    start_date: date | None = Field(default=None, description=START_DATE)
    # Lexware's organisation comes with the grant, not with the user's settings.
    remote: LexwareVerified | None = Field(default=None, exclude=True, repr=False)

    @field_validator("remote", mode="before")
    @classmethod
    def _written_by_verify(cls, value: Any, info: ValidationInfo) -> Any:
        if _from_user(info):
            raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")
        return value

    @property
    def organization_id(self) -> str | None:
        """The organisation verify found; None before the first verify."""
        return self.remote.organization_id if self.remote else None


class YukiSettings(SettingsModel):
    system: Literal["yuki"] = Field(default="yuki", exclude=True, repr=False)
    # Required from a user; then stored encrypted with the credentials, so never in the
    # stored JSON (excluded) and None when read back from it. SecretStr keeps it out of
    # reprs and logs.
    access_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        validate_default=True,
        description="Web-service access key; stored encrypted.",
    )
    administration_id: str = Field(min_length=1, max_length=64)
    default_gl_account: str | None = Field(default=None, max_length=20, examples=["8000"])
    start_date: date | None = Field(default=None, description=START_DATE)

    @field_validator("access_key", mode="before")
    @classmethod
    def _sent_by_user(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and _from_user(info):
            raise PydanticCustomError("missing", "Field required")
        return value

    def secrets(self) -> dict[str, str]:
        if self.access_key is None:
            return {}
        return {"access_key": self.access_key.get_secret_value()}


def _system_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return value.get("system")
    return getattr(value, "system", None)


# A callable discriminator: one inferred from the ``system`` fields would forbid their
# validators (NUL, and the tag refused from a user).
IntegrationSettings = Annotated[
    Annotated[ExactSettings, Tag("exact")]
    | Annotated[LexwareSettings, Tag("lexware")]
    | Annotated[YukiSettings, Tag("yuki")],
    Discriminator(_system_of),
]
"""Any system's settings; ``system`` tells which."""

SETTINGS_MODELS: Mapping[str, type[ExactSettings | LexwareSettings | YukiSettings]] = {
    "exact": ExactSettings,
    "lexware": LexwareSettings,
    "yuki": YukiSettings,
}
"""The settings model of each system."""
