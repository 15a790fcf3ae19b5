"""What every emulator gets from the sandbox: settings, clock and fault registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.faults import FaultRegistry
from invoicesync_sandbox.settings import SandboxSettings


@dataclass
class SandboxContext:
    settings: SandboxSettings
    clock: Clock
    faults: FaultRegistry = field(default_factory=FaultRegistry)
