"""The address of the client behind a request: its peer, or what a trusted proxy reports in X-Forwarded-For."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def ip_parse(value: str | None) -> IPAddress | None:
    """Parse one address (IPv4-mapped IPv6 as the IPv4 it carries), or None when it is not one."""
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def ip_trusted(address: IPAddress) -> bool:
    """Whether `address` is one of CHLOPS_TRUSTED_PROXIES."""
    return any(address in network for network in settings.CHLOPS_TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's address: REMOTE_ADDR, unless that is a trusted proxy speaking for someone else."""
    peer = ip_parse(request.META.get("REMOTE_ADDR"))
    if peer is None or not ip_trusted(peer):
        # Anyone can send X-Forwarded-For; only a proxy we run may tell us who its client is.
        return str(peer) if peer else None
    # Each proxy appends the address it was connected from, so read from the right and stop at the
    # first hop no trusted proxy vouches for; what lies left of it is the client's own to invent.
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = ip_parse(hop)
        if address is None:
            break
        peer = address
        if not ip_trusted(address):
            break
    return str(peer)
