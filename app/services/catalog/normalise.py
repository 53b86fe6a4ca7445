"""How item text and queries are folded for substring search (the same on every backend)."""

from __future__ import annotations

import unicodedata

LIKE_ESCAPE = "\\"


def fold(text: str) -> str:
    """NFKC, lower case, every whitespace character removed."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def search_text_of(name: str, department: str, type_: str) -> str:
    """An item's search text: its name, department and type, each folded, joined by spaces."""
    # A folded query has no whitespace, so it can never match across two of the parts.
    return " ".join((fold(name), fold(department), fold(type_)))


def contains_pattern(folded: str) -> str:
    """A LIKE pattern matching ``folded`` anywhere, its wildcards escaped with ``LIKE_ESCAPE``."""
    escaped = (
        folded.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"
