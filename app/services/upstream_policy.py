"""Which upstream URLs a service may point at, and the one form each is stored in.

The allow-list (``XYB_UPSTREAM_ALLOWLIST``) is comma-separated entries, each a host name
(``city.example``), a wildcard domain (``*.gov.cn``: any subdomain), an IP address, an IP network
(``10.0.0.0/8``), or ``*`` (anything). Host names are matched as written, never resolved at
onboarding: DNS answers change, and resolving would let onboarding probe the network (the
addresses a name resolves to are judged at connect time instead, see
:mod:`app.connectors.addresses`).

A submitted URL is parsed, judged and re-serialised (:meth:`UpstreamPolicy.normalise`): what is
stored is what was checked, in the one spelling both HTTP clients read the same way. Refused
outright: control characters, whitespace and backslashes anywhere (percent-encoded ones in the
path too), credentials, a query or fragment, and dot segments in the path. A host is judged as the
address it denotes: a trailing dot is dropped, an international name is IDNA-encoded, and the
legacy IPv4 spellings that ``getaddrinfo`` accepts (``2852039166``, ``0251.0376.0251.0376``,
``0xa9.0xfe.0xa9.0xfe``) are read as the dotted address they mean. Addresses that are never
reachable (link-local and metadata, unspecified, multicast, IPv6 forms of IPv4 addresses) are
refused unless the allow-list names their network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes, urlsplit

import idna

from app.connectors.addresses import (
    IPAddress,
    IPNetwork,
    listed,
    never_reachable,
    refused_at_connect,
    stands_for_ipv4,
)

# Labels of a host that inet_aton would read as a number: decimal, octal (leading 0) or hex.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# What may stand in a path once non-ASCII characters are percent-encoded (RFC 3986 pchar + "/").
_PATH = re.compile(r"^(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no URL may carry: C0/C1 controls, format characters (zero-width, bidi overrides),
# every kind of space and line separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


class UpstreamURLRefused(ValueError):
    """The URL may not be an upstream; the message is one sentence saying why."""


@dataclass(frozen=True, slots=True)
class UpstreamURL:
    """A checked upstream URL, taken apart."""

    scheme: str
    host: str  # lower-case ASCII name, dotted IPv4, or bare IPv6 (no brackets)
    port: int | None
    path: str
    address: IPAddress | None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else _DEFAULT_PORTS[self.scheme]

    def __str__(self) -> str:
        host = (
            f"[{self.host}]"
            if self.address is not None and self.address.version == 6
            else self.host
        )
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}{self.path}"


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    hosts: frozenset[str]
    domains: tuple[str, ...]
    networks: tuple[IPNetwork, ...]
    any_host: bool

    @classmethod
    def parse(cls, allowlist: str) -> UpstreamPolicy:
        hosts: set[str] = set()
        domains: list[str] = []
        networks: list[IPNetwork] = []
        any_host = False
        for raw in allowlist.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                any_host = True
            elif entry.startswith("*."):
                domains.append(entry[1:].rstrip("."))  # ".gov.cn"
            else:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(domains), tuple(networks), any_host)

    def check(self, url: str) -> str | None:
        """None if ``url`` may be an upstream, else a sentence saying why not."""
        try:
            self.normalise(url)
        except UpstreamURLRefused as refused:
            return str(refused)
        return None

    def normalise(self, url: str) -> str:
        """The stored form of ``url`` (no trailing slash), or :class:`UpstreamURLRefused`."""
        parsed = parse_upstream_url(url)
        self._judge(parsed)
        return str(parsed).rstrip("/")

    def refused_at_connect(self, address: IPAddress) -> bool:
        """Whether a connection to ``address`` must not be made (see app.connectors.addresses)."""
        return refused_at_connect(address, self.networks)

    def _judge(self, url: UpstreamURL) -> None:
        address = url.address
        if address is not None:
            if listed(address, self.networks):
                return
            if stands_for_ipv4(address):
                raise UpstreamURLRefused(
                    f"the upstream address {url.host} is an IPv6 form of an IPv4 address"
                    " (IPv4-mapped, NAT64, 6to4 or Teredo): write the IPv4 address itself"
                )
            if never_reachable(address):
                raise UpstreamURLRefused(
                    f"the upstream address {url.host} is link-local, a cloud metadata address,"
                    " multicast, reserved or unspecified"
                )
            if self.any_host:
                return
            raise UpstreamURLRefused(
                f"the upstream address {url.host} is not in the allow-list (XYB_UPSTREAM_ALLOWLIST)"
            )
        host = url.host
        if self.any_host or host in self.hosts or any(host.endswith(d) for d in self.domains):
            return
        raise UpstreamURLRefused(
            f"the upstream host {host} is not in the allow-list (XYB_UPSTREAM_ALLOWLIST)"
        )


def parse_upstream_url(url: str) -> UpstreamURL:
    """Take ``url`` apart strictly; :class:`UpstreamURLRefused` if any part is unsafe or unclear."""
    for char in url:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise UpstreamURLRefused(
                "the upstream URL contains a control character, an invisible format character or"
                " whitespace (leading and trailing spaces included)"
            )
    if "\\" in url:
        raise UpstreamURLRefused(
            "the upstream URL contains a backslash, which URL parsers read differently"
        )
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        shown = scheme.lower() if sep else ""
        raise UpstreamURLRefused(
            f"the upstream URL must be http or https, not {shown or 'missing'!r}"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UpstreamURLRefused(f"the upstream URL is malformed: {exc}") from None
    if "@" in parts.netloc:
        raise UpstreamURLRefused("the upstream URL must not carry credentials")
    if "?" in url or "#" in url:
        raise UpstreamURLRefused("the upstream URL must not have a query or fragment")
    if port == 0:
        raise UpstreamURLRefused("the upstream URL's port must be 1-65535")
    if not parts.hostname:
        raise UpstreamURLRefused("the upstream URL has no host")
    host, address = _host(parts.netloc, parts.hostname)
    return UpstreamURL(
        scheme=parts.scheme.lower(),
        host=host,
        port=port,
        path=_path(parts.path),
        address=address,
    )


def _host(netloc: str, hostname: str) -> tuple[str, IPAddress | None]:
    if netloc.startswith("["):
        if "%" in hostname:
            raise UpstreamURLRefused("the upstream URL's IPv6 address must not carry a zone id")
        try:
            v6 = ipaddress.IPv6Address(hostname)
        except ValueError:
            raise UpstreamURLRefused(
                f"the upstream URL's bracketed host {hostname!r} is not an IPv6 address"
            ) from None
        return v6.compressed, v6
    name = hostname
    if name.endswith("."):
        name = name[:-1]  # the same host, written as a fully-qualified name
    if not name or name.startswith(".") or ".." in name or "%" in name:
        raise UpstreamURLRefused(f"the upstream host {hostname!r} is not a valid host name")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise UpstreamURLRefused(
                f"the upstream host {hostname!r} is not a valid international domain name"
            ) from None
    name = name.lower()
    labels = name.split(".")
    if all(_NUMERIC_LABEL.match(label) for label in labels) or _NUMERIC_LABEL.match(labels[-1]):
        # inet_aton's reading is the one getaddrinfo (and so both HTTP clients) will connect to.
        try:
            v4 = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            raise UpstreamURLRefused(
                f"the upstream host {hostname!r} looks like an IPv4 address but is not one"
            ) from None
        return str(v4), v4
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise UpstreamURLRefused(f"the upstream host {hostname!r} is not a valid host name")
    return name, None


def _path(path: str) -> str:
    if not path.isascii():
        # Keep what is already percent-encoded; encode the rest as UTF-8.
        path = quote(path, safe="/%!$&'()*+,;=:@-._~")
    if not _PATH.match(path):
        raise UpstreamURLRefused(
            "the upstream URL's path has a stray '%' or a character that must be percent-encoded"
        )
    for segment in path.split("/"):
        raw = unquote_to_bytes(segment)
        if any(b < 0x20 or b == 0x7F for b in raw):
            raise UpstreamURLRefused(
                "the upstream URL's path hides a control character (CR, LF, NUL, ...) behind"
                " percent-encoding"
            )
        if raw.split(b";", 1)[0] in (b".", b".."):
            raise UpstreamURLRefused(
                "the upstream URL's path must not contain '.' or '..' segments"
            )
    return path


def gateway_itself(url: str, host: str, port: int, public_url: str | None = None) -> bool:
    """Whether ``url`` points at the gateway's own listening address (or its public URL).

    Loopback and unspecified addresses and ``localhost`` count as one another: a gateway
    listening on 0.0.0.0:8000 is reached at 127.0.0.1:8000.
    """
    try:
        target = parse_upstream_url(url)
    except UpstreamURLRefused:
        return False
    if public_url:
        try:
            public = parse_upstream_url(public_url.rstrip("/"))
        except UpstreamURLRefused:
            public = None
        if public is not None and (public.host, public.effective_port) == (
            target.host,
            target.effective_port,
        ):
            return True
    if target.effective_port != port:
        return False
    return target.host == host.lower().strip("[]") or (_local(target.host) and _local(host))


def _local(host: str) -> bool:
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
