"""Which headers cross the gateway, in each direction.

Header values are carried as latin-1-decoded text, so every byte survives; the connector sends
them as bytes (the proxy has refused values that are not UTF-8 or hold control characters).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# RFC 9110 §7.6.1 connection-specific fields, plus the ones the gateway recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
        "host",
        "content-length",
    }
)
# What a caller must never be able to tell an upstream: its own credentials, the gateway's
# cookies, and identity headers only the gateway may set. ``Xyb-*`` (like ``X-XYB-*``) is the
# gateway's own vocabulary: ``Xyb-Purpose`` is said to the gateway, not the upstream.
CALLER_PRIVATE = frozenset({"authorization", "cookie", "x-request-id", "forwarded"})
GATEWAY_PREFIXES = ("x-xyb-", "xyb-", "x-forwarded-", "x-real-ip")
# What some upstream frameworks and the proxies in front of them read instead of the request's
# own method, URL, host or scheme (an upstream honouring them would run another operation than
# the one the grant allowed and the gateway checked: IIS URL Rewrite's X-Original-URL and
# X-MS-Original-URL, WebDAV's Destination for MOVE and COPY, Envoy's x-envoy-* that set its path,
# retries and timeouts, IIS ARR's X-ARR-SSL and X-ARR-ClientCert that claim TLS and a client
# certificate), where the request came from (address-based trust), and two that are hop by hop
# in practice: Expect (100-continue is the gateway's business with its caller) and Max-Forwards
# (a count the gateway does not decrement).
OVERRIDES = frozenset(
    {
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-method",
        "x-original-url",
        "x-original-uri",
        "x-original-host",
        "x-rewrite-url",
        "x-rewrite-uri",
        "x-override-url",
        "x-ms-original-url",
        "x-http-destinationurl",
        "destination",
        "x-host",
        "front-end-https",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
        "x-proxyuser-ip",
        "x-original-forwarded-for",
        "true-client-ip",
        "client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "expect",
        "max-forwards",
    }
)
OVERRIDE_PREFIXES = ("x-envoy-", "x-arr-")


def _connection_listed(headers: Sequence[tuple[str, str]]) -> frozenset[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            listed.update(token.strip().lower() for token in value.split(","))
    return frozenset(listed)


def forwardable_request_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The caller's headers an upstream may see."""
    listed = _connection_listed(headers)
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in CALLER_PRIVATE or lower in OVERRIDES or lower in listed:
            continue
        if lower.startswith(GATEWAY_PREFIXES) or lower.startswith(OVERRIDE_PREFIXES):
            continue
        out.append((lower, value))
    return out


# The gateway's own server adds Date (two would disagree); Server names upstream software;
# Set-Cookie would set cookies on the gateway's domain, shared by every service behind it. The
# rest set policy for the gateway's whole origin, which no single upstream may decide: CORS
# (Access-Control-*, Timing-Allow-Origin: the gateway has no CORS policy, so browsers on other
# origins cannot read its answers), HSTS, Alt-Svc (where browsers send the origin's traffic),
# Clear-Site-Data (would wipe the dashboard's session), and NEL/Report-To (would send reports
# about the origin's traffic to the upstream's endpoint).
UPSTREAM_PRIVATE = frozenset(
    {
        "date",
        "server",
        "set-cookie",
        "set-cookie2",
        "x-powered-by",
        "timing-allow-origin",
        "strict-transport-security",
        "alt-svc",
        "clear-site-data",
        "nel",
        "report-to",
        "reporting-endpoints",
        "public-key-pins",
        "public-key-pins-report-only",
        "expect-ct",
    }
)
# ``Xyb-*`` is the gateway's: an upstream cannot answer with its own ``Xyb-Request-Digest``.
UPSTREAM_PRIVATE_PREFIXES = ("x-xyb-", "xyb-", "access-control-")


def forwardable_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream's headers a caller may see (framing and the X-XYB-* marks are the gateway's)."""
    pairs = list(headers)
    listed = _connection_listed(pairs)
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in listed or lower in UPSTREAM_PRIVATE:
            continue
        if lower.startswith(UPSTREAM_PRIVATE_PREFIXES):
            continue
        out.append((lower, value))
    return out


def with_via(headers: list[tuple[str, str]], gateway_id: str) -> list[tuple[str, str]]:
    """Append this gateway to Via (RFC 9110 §7.6.3), keeping earlier hops."""
    earlier = [value for name, value in headers if name == "via"]
    kept = [(name, value) for name, value in headers if name != "via"]
    kept.append(("via", ", ".join([*earlier, f"1.1 {gateway_id}"])))
    return kept


def has_visited(via_values: Iterable[str], gateway_id: str) -> bool:
    """Whether a Via header names this gateway: the request has looped back through it."""
    for value in via_values:
        for hop in value.split(","):
            parts = hop.strip().split()
            if len(parts) >= 2 and parts[1] == gateway_id:
                return True
    return False
