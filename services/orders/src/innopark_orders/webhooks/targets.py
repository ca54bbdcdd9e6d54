"""The SSRF guard: webhook URLs must not reach private, loopback or link-local addresses,
checked by name at registration and by every resolved address at each delivery (a name
may be re-pointed after registration: DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from innopark_shared.errors import Unprocessable

PRIVATE_TARGET = "Webhook URLs must not point at private or loopback addresses"


def _forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _bad_url(message: str) -> Unprocessable:
    return Unprocessable.for_field("url", message, detail=message)


def check_url_syntax(url: str, *, allow_private: bool) -> None:
    """Refuse, at registration, URLs that name a private address or localhost outright."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if not host:
        raise _bad_url("URL has no host")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".internal"):
        raise _bad_url(PRIVATE_TARGET)
    try:
        if _forbidden_address(host):
            raise _bad_url(PRIVATE_TARGET)
    except ValueError:
        pass  # a name: resolved and checked again at every delivery


async def check_target(url: str, *, allow_private: bool) -> None:
    """At delivery: every address the name resolves to must be public (DNS rebinding)."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        if _forbidden_address(info[4][0]):
            raise PermissionError(f"{host} resolves to a non-public address")
