"""Problems in a submitted document, and the JSON pointers that locate them (RFC 6901)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = [
    "DocProblem",
    "DocumentRefused",
    "escape_token",
    "pointer",
    "pointer_parts",
    "resolve_pointer",
]


@dataclass(frozen=True, slots=True)
class DocProblem:
    """One thing wrong with (or worth knowing about) a document.

    ``pointer`` is an RFC 6901 JSON pointer into the document ("" is the whole document; a missing
    member is reported at the object that lacks it); ``message`` is one plain English sentence.
    """

    pointer: str
    message: str


class DocumentRefused(Exception):
    """The document cannot be taken at all (too large, not parseable, not OpenAPI 3.0/3.1)."""

    def __init__(self, problems: Sequence[DocProblem]) -> None:
        self.problems: list[DocProblem] = list(problems)
        summary = "; ".join(p.message for p in self.problems[:3])
        super().__init__(summary or "the document was refused")


def escape_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer from segments: ``("paths", "/pets", "get")`` → ``/paths/~1pets/get``."""
    return "".join("/" + escape_token(p) for p in parts)


def pointer_parts(ptr: str) -> list[str]:
    """Segments of an RFC 6901 pointer (``""`` is the whole document). Raises ValueError."""
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {ptr!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]


def fragment_parts(fragment: str) -> list[str]:
    """Segments of a URI fragment that holds a JSON pointer (percent-decoded first)."""
    return pointer_parts(unquote(fragment))


_MISSING = object()


def resolve_pointer(document: Any, parts: Sequence[str]) -> Any:
    """The node at ``parts``; raises LookupError when there is none."""
    node = document
    for token in parts:
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
            if node is _MISSING:
                raise LookupError(token)
        elif isinstance(node, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
                raise LookupError(token)
            index = int(token)
            if index >= len(node):
                raise LookupError(token)
            node = node[index]
        else:
            raise LookupError(token)
    return node
