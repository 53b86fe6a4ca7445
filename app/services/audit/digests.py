"""The request digest (X-Road's request hash): the SHA-256 of the request as the gateway
received it, sent back on every /gw answer (``Xyb-Request-Digest``) and kept in the audit record,
so a client can later prove which request an answer belonged to.

``request_digest`` covers ``METHOD SP raw-target LF body``: the method, the raw path and query
bytes exactly as sent (no decoding or normalising), and the body bytes as received.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["HEADER", "digest_header", "request_digest"]

HEADER = "Xyb-Request-Digest"


def request_digest(method: str, raw_target: bytes, body: bytes) -> str:
    """The hex SHA-256 of ``method SP raw_target LF body``."""
    return hashlib.sha256(method.encode() + b" " + raw_target + b"\n" + body).hexdigest()


def digest_header(hex_digest: str) -> str:
    """The header value for a hex SHA-256: ``sha-256=:<base64 of the 32 bytes>:`` (the RFC 9530
    digest-field syntax)."""
    raw = bytes.fromhex(hex_digest)
    if len(raw) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes (64 hex characters)")
    return f"sha-256=:{base64.b64encode(raw).decode('ascii')}:"
