"""SOAP 1.1/1.2 envelopes as ASMX speaks them: parse requests, write results and faults.

lxml is untyped, so it stays in here (and in schema.py); callers get plain ``Node`` trees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

from invoicesync_sandbox.yuki.xmlout import El, document, el

YUKI_NS = "http://www.theyukicompany.com/"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SoapVersion = Literal["1.1", "1.2"]
CONTENT_TYPES: dict[SoapVersion, str] = {
    "1.1": "text/xml; charset=utf-8",
    "1.2": "application/soap+xml; charset=utf-8",
}
_PARSER: Any = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class SoapFault(Exception):
    """Raised by an operation; written as soap:Server/soap:Client (Receiver/Sender)."""

    def __init__(self, message: str, code: Literal["Server", "Client"] = "Server") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Node:
    """An element of the request: local name, namespace, text, attributes, children."""

    name: str
    ns: str
    text: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    raw_children: list[bytes] = field(default_factory=list)  # only on operation parameters

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def get(self, name: str) -> str | None:
        """Text of child ``name``, stripped; ``None`` when it is absent."""
        found = self.child(name)
        return None if found is None else found.text.strip()


@dataclass
class SoapRequest:
    version: SoapVersion
    action: str | None  # the operation named by SOAPAction / the action parameter
    operation: str  # the local name of the body element
    params: dict[str, Node]

    def param(self, name: str) -> str | None:
        node = self.params.get(name)
        return None if node is None else node.text.strip()


def parse_request(body: bytes, content_type: str, soap_action: str | None) -> SoapRequest:
    """Parse an envelope; a malformed one is a soap:Client fault, as ASMX answers."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"Server was unable to read request. ---> {exc}", "Client") from exc
    version = _version(root)
    body_el = root.find(f"{{{SOAP11_NS if version == '1.1' else SOAP12_NS}}}Body")
    operation_el = None if body_el is None else next(iter(_elements(body_el)), None)
    if operation_el is None:
        raise SoapFault("Server was unable to read request. ---> The SOAP body is empty.", "Client")
    action = _action(version, content_type, soap_action)
    params = {node.name: node for node in _param_nodes(operation_el)}
    return SoapRequest(version, action, _local(operation_el), params)


def _version(root: Any) -> SoapVersion:
    if root.tag == f"{{{SOAP11_NS}}}Envelope":
        return "1.1"
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        return "1.2"
    raise SoapFault("Server was unable to read request. ---> Not a SOAP envelope.", "Client")


def _action(version: SoapVersion, content_type: str, soap_action: str | None) -> str | None:
    if version == "1.1":
        raw = soap_action
    else:
        match = re.search(r'action\s*=\s*"?([^";]+)"?', content_type)
        raw = match.group(1) if match else None
    raw = (raw or "").strip().strip('"')
    if not raw:
        return None
    return raw[len(YUKI_NS) :] if raw.startswith(YUKI_NS) else raw


def _param_nodes(operation_el: Any) -> list[Node]:
    nodes = []
    for child in _elements(operation_el):
        node = _to_node(child)
        node.raw_children = [etree.tostring(sub) for sub in _elements(child)]
        nodes.append(node)
    return nodes


def _elements(element: Any) -> list[Any]:
    return [c for c in element if isinstance(c.tag, str)]


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _to_node(element: Any) -> Node:
    qname = etree.QName(element)
    return Node(
        name=str(qname.localname),
        ns=str(qname.namespace or ""),
        text=str(element.text or ""),
        attrs={str(etree.QName(k).localname): str(v) for k, v in element.attrib.items()},
        children=[_to_node(c) for c in _elements(element)],
    )


def envelope(version: SoapVersion, body_child: El) -> bytes:
    ns = SOAP11_NS if version == "1.1" else SOAP12_NS
    env = el("soap:Envelope", None, el("soap:Body", None, body_child))
    env.attrs = {"xmlns:soap": ns, "xmlns:xsi": XSI_NS, "xmlns:xsd": XSD_NS}
    return document(env)


def result(version: SoapVersion, operation: str, value: str | El | list[El] | None) -> bytes:
    """``<{op}Response xmlns=yuki><{op}Result>…`` with text or embedded elements."""
    result_el = El(f"{operation}Result")
    if isinstance(value, str):
        result_el.text = value
    elif isinstance(value, El):
        result_el.children = [value]
    elif value is not None:
        result_el.children = value
    response = El(f"{operation}Response", {"xmlns": YUKI_NS}, [result_el])
    return envelope(version, response)


def fault(version: SoapVersion, exc: SoapFault) -> bytes:
    if version == "1.1":
        body = el(
            "soap:Fault",
            None,
            El("faultcode", text=f"soap:{exc.code}"),
            El("faultstring", text=exc.message),
            El("detail"),
        )
    else:
        code = "Receiver" if exc.code == "Server" else "Sender"
        body = el(
            "soap:Fault",
            None,
            el("soap:Code", None, El("soap:Value", text=f"soap:{code}")),
            el("soap:Reason", None, El("soap:Text", {"xml:lang": "en"}, text=exc.message)),
            El("soap:Detail"),
        )
    return envelope(version, body)


def guess_version(content_type: str) -> SoapVersion:
    return "1.2" if "application/soap+xml" in content_type.lower() else "1.1"
