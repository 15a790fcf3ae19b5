"""The sandbox: one HTTP server emulating Exact Online, Lexware Office and Yuki."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.control import control_router
from invoicesync_sandbox.emulator import Emulator
from invoicesync_sandbox.faults import FaultMiddleware
from invoicesync_sandbox.settings import SandboxSettings


def build_emulators(ctx: SandboxContext) -> list[Emulator]:
    from invoicesync_sandbox.exact.emulator import ExactEmulator
    from invoicesync_sandbox.lexware.emulator import LexwareEmulator
    from invoicesync_sandbox.yuki.emulator import YukiEmulator

    return [ExactEmulator(ctx), LexwareEmulator(ctx), YukiEmulator(ctx)]


def create_app(settings: SandboxSettings) -> FastAPI:
    ctx = SandboxContext(settings=settings, clock=Clock(scale=settings.time_scale))
    app = FastAPI(
        title="invoicesync sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json"
    )
    demo: dict[str, Any] = {}
    for emulator in build_emulators(ctx):
        app.include_router(emulator.router(), prefix=f"/{emulator.system}")
        app.include_router(emulator.control_router(), prefix=f"/_sandbox/{emulator.system}")
        if settings.seed_demo:
            demo[emulator.system] = emulator.seed_demo()
    app.include_router(control_router(ctx, demo))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.state.ctx = ctx
    app.add_middleware(
        FaultMiddleware,
        registry=ctx.faults,
        hang_seconds=settings.fault_hang_seconds,
        clock=ctx.clock,
    )
    return app


def main() -> None:
    settings = SandboxSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
