"""The control plane shared by all emulators: faults, clock and the demo companies."""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.faults import DEFAULT_DELAY_SECONDS, Fault, FaultKind


class FaultIn(BaseModel):
    system: Literal["exact", "lexware", "yuki"]
    path_pattern: str = ".*"
    kind: FaultKind
    count: int = Field(default=1, ge=1, le=100_000)
    method: str | None = None
    # drop_response_visible_late: sandbox seconds the write stays invisible to reads;
    # drop_response_search_late: to text searches (a lagging search index).
    delay_seconds: float = Field(default=DEFAULT_DELAY_SECONDS, ge=0, le=86_400)


class ClockAdvanceIn(BaseModel):
    seconds: float = Field(gt=0)


def control_router(ctx: SandboxContext, demo: dict[str, Any]) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["control"])

    @router.get("/demo")
    async def get_demo() -> dict[str, Any]:
        return demo

    @router.post("/faults", status_code=201)
    async def add_fault(body: FaultIn) -> dict[str, Any]:
        try:
            fault = ctx.faults.add(Fault(**body.model_dump()))
        except re.error as exc:
            raise HTTPException(
                422, f"path_pattern is not a valid regular expression: {exc}"
            ) from exc
        return {"id": fault.id, **body.model_dump()}

    @router.get("/faults")
    async def list_faults() -> dict[str, Any]:
        return {
            "armed": [vars(f) for f in ctx.faults.faults],
            "fired": dict(ctx.faults.fired),
        }

    @router.delete("/faults", status_code=204)
    async def clear_faults() -> None:
        ctx.faults.clear()

    @router.get("/clock")
    async def read_clock() -> dict[str, float]:
        """Sandbox time in epoch seconds; services with INVOICESYNC_CLOCK_URL follow it."""
        return {"now": ctx.clock.now()}

    @router.post("/clock/advance")
    async def advance_clock(body: ClockAdvanceIn) -> dict[str, float]:
        ctx.clock.advance(body.seconds)
        return {"now": ctx.clock.now()}

    return router
