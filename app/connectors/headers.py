"""Which headers cross the gateway, in each direction."""

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
        "host",
        "content-length",
    }
)
# What a caller must never be able to tell an upstream: its own credentials, the gateway's
# cookies, and identity headers only the gateway may set.
CALLER_PRIVATE = frozenset({"authorization", "cookie", "x-request-id", "forwarded"})
GATEWAY_PREFIXES = ("x-xyb-", "x-forwarded-", "x-real-ip")


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
        if lower in HOP_BY_HOP or lower in CALLER_PRIVATE or lower in listed:
            continue
        if lower.startswith(GATEWAY_PREFIXES):
            continue
        out.append((lower, value))
    return out


# The gateway's own server adds Date (two would disagree); Server names upstream software;
# Set-Cookie would set cookies on the gateway's domain, shared by every service behind it.
UPSTREAM_PRIVATE = frozenset({"date", "server", "set-cookie", "x-powered-by"})


def forwardable_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream's headers a caller may see (framing and the X-XYB-* marks are the gateway's)."""
    pairs = list(headers)
    listed = _connection_listed(pairs)
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in listed or lower in UPSTREAM_PRIVATE:
            continue
        if lower.startswith("x-xyb-"):
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
