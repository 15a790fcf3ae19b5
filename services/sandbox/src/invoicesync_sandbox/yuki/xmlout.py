"""A tiny typed XML writer, so responses and WSDLs are built without untyped lxml.

Elements carry their own ``xmlns`` declarations, the way ASMX writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr


@dataclass
class El:
    """One element: ``tag`` may carry a prefix (``s:element``); text is escaped."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[El] = field(default_factory=list)
    text: str | None = None

    def add(self, *children: El) -> El:
        self.children.extend(children)
        return self


def el(tag: str, text: str | None = None, /, *children: El, **attrs: str) -> El:
    """Shorthand: ``el("Name", "Acme")`` or ``el("Item", None, child, ID="1")``."""
    return El(tag, {_attr_name(k): v for k, v in attrs.items()}, list(children), text)


def leaf(tag: str, value: object) -> El:
    """A text-only element; booleans are written as ``true``/``false``."""
    if isinstance(value, bool):
        return El(tag, text="true" if value else "false")
    return El(tag, text="" if value is None else str(value))


def _attr_name(key: str) -> str:
    # Python keywords cannot hold ':' — ``xmlns__s`` becomes ``xmlns:s``.
    return key.replace("__", ":")


def serialize(node: El) -> str:
    parts: list[str] = []
    _write(node, parts)
    return "".join(parts)


def document(node: El) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>' + serialize(node)).encode()


def _write(node: El, out: list[str]) -> None:
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in node.attrs.items())
    if not node.children and not node.text:
        out.append(f"<{node.tag}{attrs} />")
        return
    out.append(f"<{node.tag}{attrs}>")
    if node.text:
        out.append(escape(node.text))
    for child in node.children:
        _write(child, out)
    out.append(f"</{node.tag}>")
