"""Opaque, signed paging cursors: base64url(JSON [key..., query fingerprint]) '.' signature.

A cursor continues only the query it was issued for (the fingerprint) and only if this gateway
issued it (a keyed HMAC, so every instance sharing the data key accepts it). Used by the catalog
search and the audit queries alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

MAX_CURSOR_CHARS = 1000


class BadCursor(ValueError):
    """A cursor that was not issued for this query (tampered, truncated or another query's)."""


def fingerprint(query: Any) -> str:
    """A short digest of a query dataclass: a cursor only continues the query it came from."""
    canonical = json.dumps(asdict(query), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class CursorCodec:
    """Encodes and checks cursors with ``sign`` (a keyed HMAC in hex)."""

    def __init__(self, sign: Callable[[str], str]) -> None:
        self._sign = sign

    def _signature(self, payload: str) -> str:
        """128 bits of the keyed HMAC of the payload, in hex."""
        return self._sign(payload)[:32]

    def encode(self, key: list[Any], query_fingerprint: str) -> str:
        """The cursor continuing after ``key`` (JSON values)."""
        raw = json.dumps([*key, query_fingerprint], ensure_ascii=False, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")
        return f"{payload}.{self._signature(payload)}"

    def decode(self, cursor: str, query_fingerprint: str, size: int) -> list[Any]:
        """The ``size`` key values of a cursor of this query; BadCursor otherwise."""
        payload, _, signature = cursor.strip().partition(".")
        if (
            not payload
            or len(cursor) > MAX_CURSOR_CHARS
            or not hmac.compare_digest(
                signature.encode("ascii", "replace"), self._signature(payload).encode("ascii")
            )
        ):
            raise BadCursor("the cursor is not one this gateway issued (altered or truncated)")
        try:
            values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):  # pragma: no cover - signed by us
            raise BadCursor("the cursor does not decode") from None
        if not isinstance(values, list) or len(values) != size + 1:
            raise BadCursor("the cursor does not decode")  # pragma: no cover - signed by us
        if values[-1] != query_fingerprint:
            raise BadCursor("the cursor belongs to a different query: repeat its parameters")
        return values[:-1]
