"""``invoicesync-migrate``: bring the database schema to the newest revision."""

from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config
from pydantic import SecretStr

from invoicesync_shared.settings import ServiceSettings


def alembic_config(database_url: SecretStr) -> Config:
    config = Config()
    config.set_main_option("script_location", "invoicesync_api:migrations")
    config.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: SecretStr) -> None:
    command.upgrade(alembic_config(database_url), "head")


def main() -> None:
    args = sys.argv[1:]
    config = alembic_config(ServiceSettings().database_url)
    if args[:1] == ["revision"]:
        command.revision(config, message=" ".join(args[1:]) or "change", autogenerate=True)
    else:
        command.upgrade(config, "head")
