"""Yuki emulator: the .asmx SOAP services under /yuki/ws and their WSDLs, as the real host.

Serves SOAP 1.1 and 1.2, routes on SOAPAction (or the body element when none is sent).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.yuki import soap
from invoicesync_sandbox.yuki.control import YukiControl
from invoicesync_sandbox.yuki.schema import xsd_bytes
from invoicesync_sandbox.yuki.services import Services
from invoicesync_sandbox.yuki.store import Store
from invoicesync_sandbox.yuki.wsdl import SERVICES, find_operation, render_wsdl


class YukiEmulator:
    system = "yuki"

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = Store(ctx.clock)
        self.services = Services(self.store, f"{self._base()}/schemas/SalesInvoices.xsd")

    def _base(self, request: Request | None = None) -> str:
        """``public_url`` when set; otherwise the host the caller used, as ASMX does."""
        if self.ctx.settings.public_url or request is None:
            return f"{self.ctx.settings.base_url()}/yuki"
        return f"{str(request.base_url).rstrip('/')}/yuki"

    def _service(self, name: str) -> str:
        found = next((s for s in SERVICES if s.lower() == name.lower()), None)
        if found is None:
            raise HTTPException(404, "The resource cannot be found.")
        return found

    def router(self) -> APIRouter:
        router = APIRouter(tags=["yuki"])

        @router.get("/ws/{service}.asmx", include_in_schema=False)
        async def describe(service: str, request: Request) -> Response:
            name = self._service(service)
            if any(k.lower() == "wsdl" for k in request.query_params):
                location = f"{self._base(request)}/ws/{name}.asmx"
                return Response(render_wsdl(name, location), media_type="text/xml; charset=utf-8")
            return HTMLResponse(_help_page(name))

        @router.post("/ws/{service}.asmx", include_in_schema=False)
        async def call(service: str, request: Request) -> Response:
            name = self._service(service)
            body = await request.body()
            content_type = request.headers.get("content-type", "")
            soap_action = request.headers.get("soapaction")
            return await run_in_threadpool(self._handle, name, body, content_type, soap_action)

        @router.get("/schemas/SalesInvoices.xsd", include_in_schema=False)
        async def schema() -> Response:
            return Response(xsd_bytes(), media_type="text/xml; charset=utf-8")

        return router

    def _handle(self, service: str, body: bytes, content_type: str, action: str | None) -> Response:
        version = soap.guess_version(content_type)
        try:
            request = soap.parse_request(body, content_type, action)
            version = request.version
            operation = _operation(service, request)
            payload = soap.result(version, operation, self.services.call(operation, request))
            status = 200
        except soap.SoapFault as exc:
            payload, status = soap.fault(version, exc), 500
        return Response(payload, status_code=status, media_type=soap.CONTENT_TYPES[version])

    def control_router(self) -> APIRouter:
        return YukiControl(self.store).router()

    def seed_demo(self) -> dict[str, Any]:
        with self.store.lock:
            key, admin = self.store.create_administration("Demo BV", None)
        return {"access_key": key, "administration_id": admin.id}


def _operation(service: str, request: soap.SoapRequest) -> str:
    """The operation named by the action, which must agree with the body element."""
    name = request.action or request.operation
    if find_operation(service, name) is None:
        action = request.action or ""
        raise soap.SoapFault(
            f"Server did not recognize the value of HTTP Header SOAPAction: {action}.", "Client"
        )
    if request.operation != name:
        raise soap.SoapFault(
            f"Server was unable to read request. ---> The body element '{request.operation}' "
            f"does not match the action '{name}'.",
            "Client",
        )
    return name


def _help_page(service: str) -> str:
    items = "".join(f"<li>{op.name}: {op.doc}</li>" for op in SERVICES[service])
    return (
        f"<html><head><title>{service} Web Service</title></head><body>"
        f"<h1>{service}</h1><p>The following operations are supported. "
        f'For a formal definition, please review the <a href="{service}.asmx?WSDL">'
        f"Service Description</a>.</p><ul>{items}</ul></body></html>"
    )
