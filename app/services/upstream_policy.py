"""Which upstream URLs a service may point at.

The allow-list (``XYB_UPSTREAM_ALLOWLIST``) is comma-separated entries, each a host name
(``city.example``), a wildcard domain (``*.gov.cn``: any subdomain), an IP address, an IP network
(``10.0.0.0/8``), or ``*`` (anything). Host names are matched as written, never resolved at
onboarding: DNS answers change, and resolving would let onboarding probe the network. Link-local
and metadata addresses (169.254.0.0/16, fe80::/10) are refused unless listed explicitly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

_ALWAYS_SUSPECT = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    hosts: frozenset[str]
    domains: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    any_host: bool

    @classmethod
    def parse(cls, allowlist: str) -> UpstreamPolicy:
        hosts: set[str] = set()
        domains: list[str] = []
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        any_host = False
        for raw in allowlist.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                any_host = True
            elif entry.startswith("*."):
                domains.append(entry[1:])  # ".gov.cn"
            else:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    hosts.add(entry)
        return cls(frozenset(hosts), tuple(domains), tuple(networks), any_host)

    def check(self, url: str) -> str | None:
        """None if ``url`` may be an upstream, else a sentence saying why not."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            return f"the upstream URL is malformed: {exc}"
        del port
        if parts.scheme not in ("http", "https"):
            return f"the upstream URL must be http or https, not {parts.scheme or 'missing'!r}"
        if not parts.hostname:
            return "the upstream URL has no host"
        if parts.username or parts.password:
            return "the upstream URL must not carry credentials"
        if parts.query or parts.fragment:
            return "the upstream URL must not have a query or fragment"
        host = parts.hostname.lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            listed = any(address in net for net in self.networks)
            if listed:
                return None
            if (
                any(address in net for net in _ALWAYS_SUSPECT)
                or address.is_multicast
                or (address.is_unspecified)
            ):
                return f"the upstream address {host} is link-local, multicast or unspecified"
            if self.any_host:
                return None
            return f"the upstream address {host} is not in the allow-list (XYB_UPSTREAM_ALLOWLIST)"
        if self.any_host or host in self.hosts or any(host.endswith(d) for d in self.domains):
            return None
        return f"the upstream host {host} is not in the allow-list (XYB_UPSTREAM_ALLOWLIST)"
