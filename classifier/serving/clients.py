"""Who a request comes from, for fair shares: a client is a network (an IPv4 address, an IPv6
/64), so the thirty students behind a school's one address are one client, and a stranger's free
session ids are still one client. No Gradio here.

Behind a proxy (a Hugging Face Space) every request arrives from the proxy's private address, and
the proxy appends the address it saw to `X-Forwarded-For`. That header is read only when the
request comes from a private or loopback address (a proxy, or a local test), and then its
rightmost public address counts: whatever a client writes there itself stands to the left of
what the proxy appends. A request straight from a public address is that address, whatever its
headers say.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping

UNKNOWN = "unknown"  # a request with no peer address (an in-process call, a test client)


def client_of(peer: str | None, headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]]) -> str:
    """The client a request is from: its network as text ("203.0.113.7", "2001:db8:1:2::/64")."""
    address = _parse(peer)
    if address is None or not _trusted_hop(address):
        return _network(address) if address is not None else UNKNOWN
    for hop in reversed(_forwarded(headers)):
        forwarded = _parse(hop)
        if forwarded is not None and not _trusted_hop(forwarded):
            return _network(forwarded)
    return _network(address)


def client_of_request(request) -> str:
    """`client_of` for a Starlette/FastAPI request (or anything with .client and .headers)."""
    if request is None:
        return UNKNOWN
    client = getattr(request, "client", None)
    return client_of(getattr(client, "host", None), getattr(request, "headers", {}) or {})


def client_of_scope(scope: dict) -> str:
    """`client_of` for an ASGI scope (the middleware's view of a request)."""
    peer = scope.get("client")
    return client_of(peer[0] if peer else None, scope.get("headers") or [])


def _forwarded(headers) -> list[str]:
    if isinstance(headers, Mapping) or hasattr(headers, "getlist"):
        values = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else \
            [v for k, v in headers.items() if k.lower() == "x-forwarded-for"]
    else:
        values = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-forwarded-for"]
    return [hop.strip() for value in values for hop in value.split(",")][-16:]


def _parse(text) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


PROXY_NETWORKS = [ipaddress.ip_network(n) for n in (  # where a proxy in front of the app sits
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")]


def _trusted_hop(address) -> bool:
    """A private, loopback or link-local address: a proxy in front of the app (or a local test)."""
    return any(address in network for network in PROXY_NETWORKS)


def _network(address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
