"""The seam between the sandbox app and each accounting-system emulator."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter


class Emulator(Protocol):
    """One emulated accounting system (Exact, Lexware or Yuki).

    ``router`` serves the vendor's own API under ``/{system}``; ``control_router``
    serves test and demo controls under ``/_sandbox/{system}``; ``seed_demo``
    creates the demo company and returns its section of ``GET /_sandbox/demo``.
    """

    system: str

    def router(self) -> APIRouter: ...

    def control_router(self) -> APIRouter: ...

    def seed_demo(self) -> dict[str, Any]: ...
