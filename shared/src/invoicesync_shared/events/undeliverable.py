"""The dead letter of a record that was never an event: not an ``Event`` subclass (it has
no topic of its own; it is parked on each connector's dead-letter topic as it came)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


class Undeliverable(BaseModel):
    """A record no handler could process (not a CloudEvent, or its handler kept failing),
    parked as it came with the reason; see ``ConnectorRuntime.dead_letter_record``."""

    TYPE: ClassVar[str] = "com.invoicesync.undeliverable"
    reason: str
    value: str = Field(description="The original record's value, decoded as UTF-8.")
