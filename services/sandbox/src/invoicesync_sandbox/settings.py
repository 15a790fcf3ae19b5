"""Settings of the sandbox emulators (prefix INVOICESYNC_SANDBOX_ / INVOICESYNC_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    """One block for the whole sandbox; each emulator reads its own fields."""

    model_config = SettingsConfigDict(
        env_prefix="INVOICESYNC_SANDBOX_", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8010, validation_alias="INVOICESYNC_SANDBOX_PORT")
    public_url: str = ""  # defaults to http://host:port
    auto_approve: bool = False  # OAuth consent pages approve at once (tests, demos)
    seed_demo: bool = True  # one demo company per system at start-up
    # Time scale for rate limits and token lifetimes: 10 means a "minute" lasts 6 s.
    time_scale: float = 1.0
    # How long a "timeout" / "drop_response_*" fault holds the connection.
    fault_hang_seconds: float = 30.0

    # The OAuth apps invoicesync itself uses (the API reads the same values).
    exact_client_id: str = Field(
        default="invoicesync-dev", validation_alias="INVOICESYNC_EXACT_CLIENT_ID"
    )
    exact_client_secret: str = Field(
        default="invoicesync-dev-secret", validation_alias="INVOICESYNC_EXACT_CLIENT_SECRET"
    )
    lexware_client_id: str = Field(
        default="invoicesync-dev", validation_alias="INVOICESYNC_LEXWARE_CLIENT_ID"
    )
    lexware_client_secret: str = Field(
        default="invoicesync-dev-secret", validation_alias="INVOICESYNC_LEXWARE_CLIENT_SECRET"
    )
    # Redirect URI registered for invoicesync's apps; the API's OAuth callback.
    redirect_uri: str = Field(
        default="http://127.0.0.1:8000/v1/oauth/callback",
        validation_alias="INVOICESYNC_OAUTH_REDIRECT_URI",
    )

    # Exact Online limits per app and division (the real ones by default).
    exact_minutely_limit: int = 60
    exact_daily_limit: int = 5000
    # Lexware Office: requests per second per client (token bucket).
    lexware_requests_per_second: float = 2.0

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
