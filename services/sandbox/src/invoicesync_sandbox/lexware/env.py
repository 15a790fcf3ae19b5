"""What every Lexware route module shares: context, store, callbacks and the caller check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.lexware.auth import Caller
from invoicesync_sandbox.lexware.events import Dispatcher
from invoicesync_sandbox.lexware.store import Store, iso


@dataclass
class Env:
    ctx: SandboxContext
    store: Store
    dispatcher: Dispatcher
    caller: Callable[[Request], Awaitable[Caller]]

    def now(self) -> float:
        return self.ctx.clock.now()

    def resource_uri(self, path: str) -> str:
        return f"{self.ctx.settings.base_url()}/lexware/v1/{path}"

    def action_result(
        self, path: str, obj_id: str, created: float, updated: float, version: int
    ) -> dict[str, Any]:
        """The ``{id, resourceUri, createdDate, updatedDate, version}`` of a create or update."""
        return {
            "id": obj_id,
            "resourceUri": self.resource_uri(f"{path}/{obj_id}"),
            "createdDate": iso(created),
            "updatedDate": iso(updated),
            "version": version,
        }


def spring_page(
    rows: list[dict[str, Any]], page: int, size: int, sort: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Slice ``rows`` into one Spring Data page."""
    total = len(rows)
    content = rows[page * size : (page + 1) * size]
    pages = (total + size - 1) // size if size else 0
    return {
        "content": content,
        "first": page == 0,
        "last": page >= pages - 1,
        "totalPages": pages,
        "totalElements": total,
        "numberOfElements": len(content),
        "size": size,
        "number": page,
        "sort": sort or [],
    }
