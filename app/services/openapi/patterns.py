"""The regular expressions of a document (``pattern``, ``patternProperties``) RE2 cannot run.

Request validation runs every pattern with RE2 (:mod:`app.core.safe_regex`), in linear time, so a
pattern RE2 refuses (look-around, back-references, too large) is refused at onboarding, at its
JSON pointer, with the reason. A document stored before this check is loaded as it is; its
refused patterns are listed as warnings (:func:`pattern_warnings`), and a request that reaches
one is refused (see :mod:`validation`), never checked with Python's backtracking ``re``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.core.safe_regex import refusal
from app.services.openapi.problems import DocProblem, pointer
from app.services.openapi.refs import Parts, RefCheck, check_refs, iter_objects, maybe_unwalked

__all__ = ["iter_patterns", "pattern_problems", "pattern_warnings"]


def iter_patterns(document: Any, refs: RefCheck | None = None) -> Iterator[tuple[Parts, str]]:
    """Every pattern of the document's schemas with where it is: a ``pattern`` value, or a key of
    ``patternProperties``. Schemas kept under extensions count when a ``$ref`` reaches them."""
    roots: list[Parts] = [()]
    if refs is not None:
        roots.extend(sorted({t for t in refs.targets.values() if maybe_unwalked(t)}, key=pointer))
    seen: set[Parts] = set()
    for root in roots:
        for node, parts in iter_objects(document, at=root):
            if parts in seen:
                continue
            seen.add(parts)
            text = node.get("pattern")
            if isinstance(text, str):
                yield (*parts, "pattern"), text
            keyed = node.get("patternProperties")
            if isinstance(keyed, dict):
                for key in keyed:
                    yield (*parts, "patternProperties", key), key


def _shown(pattern: str) -> str:
    return pattern if len(pattern) <= 80 else pattern[:79] + "…"


def _refused(document: Any, refs: RefCheck | None) -> Iterator[tuple[str, str]]:
    for parts, text in iter_patterns(document, refs):
        reason = refusal(text)
        if reason is not None:
            yield pointer(parts), f"The pattern {_shown(text)!r} cannot be used: {reason}."


def pattern_problems(document: Any, refs: RefCheck | None = None) -> list[DocProblem]:
    """One problem per pattern RE2 cannot run, at its pointer, with the reason."""
    return [
        DocProblem(
            where,
            f"{sentence} The gateway runs patterns with RE2, whose time is linear in the text;"
            " write it without look-around or back-references (split the check with allOf or"
            " not if need be).",
        )
        for where, sentence in _refused(document, refs)
    ]


_WARNINGS: dict[str, list[DocProblem]] = {}
_WARNINGS_KEPT = 256


def pattern_warnings(document: Any, key: str | None = None) -> list[DocProblem]:
    """For a stored document: its patterns RE2 cannot run, as warnings that say what happens.

    ``key`` (the document's sha256) keeps the answer: walking a 5 MiB document takes ~0.3 s.
    """
    if key is not None and key in _WARNINGS:
        return _WARNINGS[key]
    found = [
        DocProblem(
            where,
            f"{sentence} The document was stored before patterns were checked: a request with a"
            " value this pattern applies to is refused (422) until a corrected version is"
            " onboarded.",
        )
        for where, sentence in _refused(document, check_refs(document))
    ]
    if key is not None:
        if len(_WARNINGS) >= _WARNINGS_KEPT:
            _WARNINGS.pop(next(iter(_WARNINGS)), None)
        _WARNINGS[key] = found
    return found
