"""The REST host ``/api/v1/...``: one dispatcher that authenticates, checks the division,
applies the error block and rate limits, runs the entity set and wraps the answer in the
OData envelope, with ``X-RateLimit-*`` headers on every answer to a known app.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.exact.dates import from_epoch
from invoicesync_sandbox.exact.errors import (
    ExactError,
    bad_request,
    error_body,
    no_division_access,
    not_found,
    unauthorized,
)
from invoicesync_sandbox.exact.odata import Query, parse_key, parse_query
from invoicesync_sandbox.exact.render import Renderer
from invoicesync_sandbox.exact.resource import Body, Call, Resource
from invoicesync_sandbox.exact.store import ExactStore
from invoicesync_sandbox.exact.tokens import Principal, TokenService

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]\w*)(?:\((?P<key>.*)\))?$")
_INVALID_BODY = (
    "Error processing request stream. The request should be a valid top-level resource object."
)


@dataclass
class Target:
    division: int | None
    resource: Resource
    key: object | None
    navigation: str | None

    def endpoint(self) -> str:
        return self.resource.path


class ExactApi:
    def __init__(self, store: ExactStore, tokens: TokenService, clock: Clock) -> None:
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.resources: dict[str, Resource] = {}

    def add(self, resource: Resource) -> None:
        self.resources[resource.path] = resource

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.api_route("/api/v1/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def api(request: Request, rest: str) -> Response:
            body: Body | None = None
            early: ExactError | None = None
            try:
                body = await _read_body(request)
            except ExactError as exc:
                early = exc
            async with self.store.lock:
                return self.dispatch(request, rest, body, early)

        return router

    def dispatch(
        self, request: Request, rest: str, body: Body | None, early: ExactError | None
    ) -> Response:
        principal = self.tokens.authenticate(_bearer(request))
        target = self._try_target(rest)
        try:
            if principal is None:
                raise unauthorized()
            if target is None:
                raise not_found()
            return self._guarded(request, principal, target, body, early)
        except ExactError as exc:
            self._count_error(request, principal, target, exc.status)
            response = exc.response()
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response

    def _guarded(
        self,
        request: Request,
        principal: Principal,
        target: Target,
        body: Body | None,
        early: ExactError | None,
    ) -> Response:
        user = principal.user
        division = target.division if target.division is not None else user.current_division
        if target.division is not None and target.division not in user.divisions:
            raise no_division_access(target.division)
        now = self.clock.now()
        client = principal.chain.client_id
        error_key = (client, division, target.endpoint())
        if (until := self.store.blocker.blocked(error_key, now)) is not None:
            if self.store.blocker.status == 429:
                self._count_429(division)
            return _blocked(self.store.blocker.status, until - now)
        verdict = self.store.limiter.take((client, division), now)
        if not verdict.allowed:
            self._count_429(division)
            response: Response = JSONResponse(error_body("API rate limit exceeded."), 429)
        else:
            response = self._answer(request, principal, target, body, early)
            self.store.blocker.record(error_key, response.status_code, now, _call(request))
        response.headers.update(verdict.headers)
        return response

    def _count_429(self, division: int) -> None:
        self.store.rate_limited[division] = self.store.rate_limited.get(division, 0) + 1

    def _answer(
        self,
        request: Request,
        principal: Principal,
        target: Target,
        body: Body | None,
        early: ExactError | None,
    ) -> Response:
        try:
            if early is not None:
                raise early
            division = self.store.divisions.get(target.division or 0)
            call = Call(principal.user, division, from_epoch(self.clock.now()))
            return self._run(request, call, target, body)
        except ExactError as exc:
            return exc.response()

    def _run(self, request: Request, call: Call, target: Target, body: Body | None) -> Response:
        renderer = Renderer(request, call, target.resource, self.resources)
        method = request.method
        query = parse_query(request.query_params)
        if method == "GET":
            return self._get(renderer, call, target, query)
        if target.navigation is not None:
            raise not_found()
        if method == "POST" and target.key is None:
            row = target.resource.create(call, body or {})
            return renderer.created(row)
        if target.key is None:
            raise ExactError(405, "The requested operation requires an entity key.")
        if method == "PUT":
            target.resource.update(call, target.key, body or {})
        else:
            target.resource.delete(call, target.key)
        return Response(status_code=204)

    def _get(self, renderer: Renderer, call: Call, target: Target, query: Query) -> Response:
        resource = target.resource
        if target.key is None:
            return renderer.collection(resource.rows(call), query)
        row = resource.row(call, target.key)
        if target.navigation is None:
            return renderer.single(row, query)
        if target.navigation not in resource.navigations:
            raise not_found()
        return renderer.navigation(row, target.navigation, query)

    def _try_target(self, rest: str) -> Target | None:
        try:
            return self._target(rest)
        except ExactError:
            return None

    def _target(self, rest: str) -> Target:
        segments = [s for s in rest.split("/") if s]
        division: int | None = None
        if segments and segments[0] != "current":
            if not segments[0].isdigit():
                raise not_found()
            division = int(segments.pop(0))
        for index, segment in enumerate(segments):
            match = _SEGMENT.match(segment)
            if match is None:
                break
            path = "/".join([*segments[:index], match.group("name")])
            resource = self.resources.get(path)
            if resource is None or (division is None) != (path == "current/Me"):
                continue
            key_text = match.group("key")
            key = parse_key(key_text) if key_text else None
            tail = segments[index + 1 :]
            if len(tail) > 1 or (tail and key is None):
                raise not_found()
            return Target(division, resource, key, tail[0] if tail else None)
        raise not_found()

    def _count_error(
        self, request: Request, principal: Principal | None, target: Target | None, status: int
    ) -> None:
        """Errors before the handler (401, 403, unknown paths) count towards the block."""
        chain = principal.chain if principal else None
        if chain is None:
            chain = self.store.tokens.chain_of(_bearer(request))
        if chain is None:
            return
        user = self.store.users[chain.user_id]
        division = target.division if target and target.division else user.current_division
        endpoint = target.endpoint() if target else request.url.path
        key = (chain.client_id, division, endpoint)
        self.store.blocker.record(key, status, self.clock.now(), _call(request))


def _call(request: Request) -> str:
    return f"{request.method} {request.url.path}"


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _read_body(request: Request) -> Body | None:
    if request.method not in ("POST", "PUT"):
        return None
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise bad_request(_INVALID_BODY) from exc
    if not isinstance(parsed, dict):
        raise bad_request(_INVALID_BODY)
    return parsed


def _blocked(status: int, seconds_left: float) -> Response:
    hours = max(1, round(seconds_left / 3600))
    span = "an hour" if hours == 1 else f"{hours} hours"
    message = f"Too many errors: this app is blocked for this endpoint for about {span}."
    retry = str(max(1, int(seconds_left)))
    return JSONResponse(error_body(message), status, headers={"Retry-After": retry})
