"""Which URLs a webhook may target: http(s) on public addresses, so deliveries cannot be
aimed at our own network (SSRF). Loopback targets only when allowed (``make run``: a
receiver on the developer's machine), other private ones only when explicitly allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from invoicesync_api.errors.exceptions import ApiError
from invoicesync_api.i18n.catalog import N_

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ApiError):
    status, code, title = 422, "webhook_url_refused", N_("The webhook URL is not allowed")


def _unmapped(ip: IpAddress) -> IpAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _address_problem(ip: IpAddress) -> str | None:
    ip = _unmapped(ip)
    for label, hit in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ):
        if hit:
            return label
    return None


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(N_("The webhook URL must start with https:// or http://."))
    if not parts.hostname:
        raise UrlRefused(N_("The webhook URL has no host."))
    if parts.username or parts.password:
        raise UrlRefused(N_("The webhook URL must not carry credentials."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused(N_("The webhook URL has an invalid port.")) from exc
    return parts.hostname, port


async def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UrlRefused(
            N_("The webhook host '{host}' does not resolve."), params={"host": host}
        ) from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool, allow_loopback: bool = False) -> None:
    """Refuse a target we must not call; raises ``UrlRefused`` (422) naming the reason.

    Checked when an endpoint is saved and again before every attempt, since DNS answers
    may change after the URL was accepted.
    """
    host, port = _split(url)
    if allow_private:
        return
    for ip in await _resolve(host, port):
        if allow_loopback and _unmapped(ip).is_loopback:
            continue
        reason = _address_problem(ip)
        if reason is not None:
            raise UrlRefused(
                N_("The webhook host '{host}' resolves to {ip}, not a public address ({kind})."),
                params={"host": host, "ip": str(ip), "kind": reason},
            )
