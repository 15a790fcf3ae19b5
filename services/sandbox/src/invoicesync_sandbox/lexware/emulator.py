"""Lexware Office emulator: the public API host (``/lexware``) plus its control plane.

Wires the store, OAuth, rate limit, webhook dispatcher and the route modules together.
"""

# No postponed annotations here: FastAPI must resolve the local ``CallerDep`` alias.

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.lexware import (
    bookkeeping,
    contacts,
    fallback,
    files,
    masterdata,
    subscriptions,
    voucherlist,
    vouchers,
)
from invoicesync_sandbox.lexware.auth import Caller, make_caller_dependency
from invoicesync_sandbox.lexware.control import build_control_router
from invoicesync_sandbox.lexware.env import Env
from invoicesync_sandbox.lexware.errors import LexwareRoute
from invoicesync_sandbox.lexware.events import Dispatcher, Signer
from invoicesync_sandbox.lexware.oauth import OAuthServer, OAuthState
from invoicesync_sandbox.lexware.rate_limit import TokenBuckets
from invoicesync_sandbox.lexware.store import Store

TEST_APP_ID = "lexware-sandbox-test-app"


class LexwareEmulator:
    system = "lexware"

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = Store()
        self.oauth_state = OAuthState()
        self.oauth_state.register(
            "invoicesync",
            ctx.settings.redirect_uri,
            ctx.settings.lexware_client_id,
            ctx.settings.lexware_client_secret,
        )
        self.buckets = TokenBuckets(ctx.clock, ctx.settings.lexware_requests_per_second)
        self.signer = Signer()
        self.oauth = OAuthServer(ctx, self.store, self.oauth_state)
        self.env = Env(
            ctx=ctx,
            store=self.store,
            dispatcher=Dispatcher(ctx.clock, self.signer),
            caller=make_caller_dependency(self.store, self.oauth_state, self.buckets, ctx.clock),
        )

    def router(self) -> APIRouter:
        router = APIRouter()
        router.include_router(self.oauth.router())
        api = APIRouter(route_class=LexwareRoute, tags=["lexware"])
        CallerDep = Annotated[Caller, Depends(self.env.caller)]

        @api.get("/v1/profile")
        async def profile(caller: CallerDep) -> dict[str, Any]:
            return caller.org.profile()

        contacts.register(api, self.env)
        vouchers.register(api, self.env)
        bookkeeping.register(api, self.env)
        files.register(api, self.env)
        voucherlist.register(api, self.env)
        subscriptions.register(api, self.env)
        masterdata.register(api, self.env)
        router.include_router(api)
        fallback.register(router, api)  # last: only what no route above took
        return router

    def control_router(self) -> APIRouter:
        return build_control_router(
            self.env, self.oauth_state, self.buckets, self.signer.public_pem
        )

    def seed_demo(self) -> dict[str, Any]:
        org = self.store.create_org("Demo Lexware GmbH", self.ctx.clock.now())
        self.oauth.demo_org = org.id
        app = self.oauth_state.register(
            "Sandbox test app",
            f"{self.ctx.settings.base_url()}/_sandbox/lexware/callback",
            TEST_APP_ID,
        )
        return {
            "organization_id": org.id,
            "api_key": org.api_key,
            "test_app": {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uri": app.redirect_uri,
            },
        }
