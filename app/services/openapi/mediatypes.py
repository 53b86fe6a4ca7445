"""Media types: which kind of body a Content-Type is, and which declared type a request matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["VALIDATED_KINDS", "BodyKind", "body_kind", "match_media_type", "media_type_of"]

BodyKind = Literal["json", "form", "multipart", "other"]
VALIDATED_KINDS: frozenset[BodyKind] = frozenset({"json", "form"})


def media_type_of(content_type: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` → ``"application/json"`` ("" for none)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def body_kind(content_type: str | None) -> BodyKind:
    """How the gateway treats a body of this type: JSON and form bodies are validated."""
    media = media_type_of(content_type)
    if media in ("application/json", "text/json") or (
        media.endswith("+json") and "/" in media and "*" not in media
    ):
        return "json"
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.startswith("multipart/"):
        return "multipart"
    return "other"


def match_media_type(content_type: str | None, declared: Sequence[str]) -> str | None:
    """The declared media type (as written) a request's Content-Type falls under, most specific
    first: the exact type, then ``type/*``, then ``*/*``. None when none does."""
    media = media_type_of(content_type)
    if not media or "/" not in media:
        return None
    by_media = {media_type_of(d): d for d in declared}
    if media in by_media:
        return by_media[media]
    wildcard = media.split("/", 1)[0] + "/*"
    if wildcard in by_media:
        return by_media[wildcard]
    return by_media.get("*/*")
