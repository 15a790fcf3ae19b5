"""A real sandbox server per test module, with consent pages auto-approved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from invoicesync_sandbox.main import create_app
from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import sandbox_config, serve_in_thread


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    return sandbox_config()


@pytest.fixture(scope="module")
def sandbox_url(sandbox_settings: SandboxSettings) -> Iterator[str]:
    with serve_in_thread(create_app(sandbox_settings), port=sandbox_settings.port) as url:
        yield url
