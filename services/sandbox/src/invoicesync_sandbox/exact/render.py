"""Rows → Exact's JSON answers: ``__metadata``, deferred or expanded navigations,
``$select``, and the ``d``/``d.results``/``__next`` envelope with absolute URIs.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from invoicesync_sandbox.exact.errors import bad_request
from invoicesync_sandbox.exact.odata import (
    Query,
    Row,
    check_select,
    entity_json,
    key_literal,
    next_link,
    page_rows,
)
from invoicesync_sandbox.exact.resource import Call, Resource


class Renderer:
    def __init__(
        self, request: Request, call: Call, resource: Resource, resources: dict[str, Resource]
    ) -> None:
        self.request = request
        self.call = call
        self.resource = resource
        self.resources = resources
        path = request.url.path
        self.api_base = (
            f"{request.url.scheme}://{request.url.netloc}{path[: path.index('/api/v1') + 7]}"
        )

    def collection(self, rows: list[Row], query: Query) -> JSONResponse:
        resource = self.resource
        self._check(query, resource)
        seq = lambda key: resource.seq(self.call, key)  # noqa: E731
        page = page_rows(rows, query, set(resource.properties), resource.key, seq)
        results = [self.entity(resource, row, query) for row in page.rows]
        envelope: dict[str, object] = {"results": results}
        if page.next_token is not None:
            here = f"{self.request.url.scheme}://{self.request.url.netloc}{self.request.url.path}"
            envelope["__next"] = next_link(here, query, page.next_token)
        return JSONResponse({"d": envelope})

    def single(self, row: Row, query: Query) -> JSONResponse:
        self._check(query, self.resource)
        return JSONResponse({"d": self.entity(self.resource, row, query)})

    def navigation(self, row: Row, navigation: str, query: Query) -> JSONResponse:
        child = self._child(navigation)
        rows = self.resource.expand(self.call, row, navigation)
        previous, self.resource = self.resource, child
        try:
            return self.collection(rows, query)
        finally:
            self.resource = previous

    def created(self, row: Row) -> JSONResponse:
        query = Query(expand=set(self.resource.navigations))
        body = self.entity(self.resource, row, query)
        uri = body["__metadata"]["uri"]  # type: ignore[index]
        return JSONResponse({"d": body}, status_code=201, headers={"Location": str(uri)})

    def entity(self, resource: Resource, row: Row, query: Query) -> Row:
        uri = self.uri(resource, row)
        body = entity_json(row, uri, resource.type_name, query.select)
        for navigation in resource.navigations:
            if query.select is not None and navigation not in query.select:
                continue
            if navigation in query.expand:
                child = self._child(navigation)
                children = resource.expand(self.call, row, navigation)
                plain = Query()
                body[navigation] = {"results": [self.entity(child, c, plain) for c in children]}
            else:
                body[navigation] = {"__deferred": {"uri": f"{uri}/{navigation}"}}
        return body

    def uri(self, resource: Resource, row: Row) -> str:
        division = self.call.division
        scope = f"{division.code}/" if division else ""
        return f"{self.api_base}/{scope}{resource.path}({key_literal(row[resource.key])})"

    def _child(self, navigation: str) -> Resource:
        for path, resource in self.resources.items():
            if path.endswith("/" + navigation):
                return resource
        raise bad_request(f"Unknown navigation property '{navigation}'")

    def _check(self, query: Query, resource: Resource) -> None:
        known = set(resource.properties) | set(resource.navigations)
        check_select(query, known)
        for name, _ in query.orderby:
            if name not in resource.properties:
                raise bad_request(f"No property '{name}' exists in type of this entity set.")
        for name in query.expand:
            if name not in resource.navigations:
                raise bad_request(f"Unknown navigation property '{name}'")
