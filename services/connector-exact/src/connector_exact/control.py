"""The on-demand payment read-back, as a route for the connector's control app
(``POST /integrations/{id}/payments/refresh``): the API calls it when a user asks."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from connector_exact.readback import ExactReadBack


def readback_routes(readback: ExactReadBack) -> list[BaseRoute]:
    async def refresh(request: Request) -> JSONResponse:
        try:
            integration_id = uuid.UUID(request.path_params["integration_id"])
        except ValueError:
            return JSONResponse({"code": "not_found", "message": "No such integration."}, 404)
        emitted = await readback.refresh_now(integration_id)
        if emitted is None:
            return JSONResponse(
                {
                    "code": "not_refreshable",
                    "message": "Not an active Exact integration, or a refresh is running.",
                },
                status_code=409,
            )
        return JSONResponse({"ok": True, "results_emitted": emitted})

    return [Route("/integrations/{integration_id}/payments/refresh", refresh, methods=["POST"])]
