"""Which network addresses an upstream connection may never reach, whatever the allow-list says.

Judged twice: at onboarding, for an address written in the upstream URL
(:mod:`app.services.upstream_policy`), and at connect time, for every address a host name resolves
to (:mod:`app.connectors.transports`), so a name that later resolves to the metadata service is
refused too. An allow-list entry that names the network explicitly (``169.254.0.0/16``) lifts the
refusal: that is the operator's decision, not an accident.

Never reachable: link-local (169.254/16 and fe80::/10, where cloud metadata services answer),
the cloud metadata addresses outside it (Alibaba Cloud's 100.100.100.200, AWS's fd00:ec2::254),
"this network" 0/8 and ``::`` (a connect to 0.0.0.0 reaches the local host), multicast,
the reserved 240/4 with the broadcast address, and every IPv6 address that stands for an IPv4
address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4, Teredo):
written that way, an address escapes checks made on its IPv4 form.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NEVER_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "169.254.0.0/16",
        "100.100.100.200/32",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
_NEVER_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "fe80::/10",
        "fd00:ec2::254/128",
        "ff00::/8",
    )
)
# IPv6 forms of IPv4 addresses: ::ffff:0:0/96 (mapped), ::/96 (compatible), NAT64 (RFC 6052 and
# RFC 8215), 6to4 (RFC 3056) and Teredo (RFC 4380).
_STANDS_FOR_V4 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::ffff:0:0/96",
        "::/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
    )
)


class AddressRefused(OSError):
    """The upstream's host is, or resolves only to, addresses upstreams may never have.

    The message names the host (for the operator), never the URL.
    """


def stands_for_ipv4(address: IPAddress) -> bool:
    """Whether ``address`` is an IPv6 spelling of (or a translation to) an IPv4 address."""
    if address.version != 6:
        return False
    plain = _without_scope(address)
    if plain in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return False
    return any(plain in net for net in _STANDS_FOR_V4)


def never_reachable(address: IPAddress) -> bool:
    """Whether ``address`` is one no upstream connection may reach unless explicitly listed."""
    if address.version == 4:
        return any(address in net for net in _NEVER_V4)
    plain = _without_scope(address)
    return any(plain in net for net in _NEVER_V6) or stands_for_ipv4(plain)


def listed(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    plain = _without_scope(address)
    return any(plain.version == net.version and plain in net for net in networks)


def refused_at_connect(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    """The connect-time judgement: never reachable, and not named by an allow-list network."""
    return never_reachable(address) and not listed(address, networks)


def _without_scope(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(int(address))
    return address
