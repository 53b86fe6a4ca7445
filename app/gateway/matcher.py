"""Path-template matching for one service's operations: a segment trie, literals before templates.

``/records/{id}`` and ``/records/latest`` can coexist: ``/records/latest`` matches the literal.
A segment may mix text and parameters (``/files/{name}.json``). Encoded slashes stay inside
their segment, because segments are split before they are decoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

from app.core.safe_regex import GroupPattern, PatternRefused, compile_groups, escape

T = TypeVar("T")
_PARAM = re.compile(r"\{([^{}/]+)\}")


@dataclass(slots=True)
class _Template:
    # None: the whole segment is one parameter. RE2: the template is the document author's and
    # the segment the caller's, and lazy groups between literals backtrack in Python's re.
    regex: GroupPattern | None
    names: list[str]


@dataclass(slots=True)
class _Node(Generic[T]):
    literals: dict[str, _Node[T]] = field(default_factory=dict)
    # Mixed segments first (more specific), then whole-segment parameters.
    templates: list[tuple[_Template, _Node[T]]] = field(default_factory=list)
    methods: dict[str, T] = field(default_factory=dict)
    path: str | None = None


def _segment_template(segment: str) -> _Template | None:
    names = _PARAM.findall(segment)
    if not names:
        return None
    if _PARAM.fullmatch(segment):
        return _Template(None, names)
    pattern = ""
    last = 0
    for m in _PARAM.finditer(segment):
        pattern += escape(segment[last : m.start()]) + "(.+?)"
        last = m.end()
    pattern += escape(segment[last:])
    try:
        return _Template(compile_groups(pattern), names)
    except PatternRefused:  # a segment too long to compile: a template that matches nothing
        return _Template(compile_groups(r"\b\B"), names)


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    path: str
    target: T
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MethodMismatch:
    path: str
    allowed: tuple[str, ...]


class PathMatcher(Generic[T]):
    """Maps (method, path) to a target, with path parameters."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()

    def add(self, method: str, path: str, target: T) -> None:
        node = self._root
        for segment in path.split("/")[1:]:
            template = _segment_template(segment)
            if template is None:
                node = node.literals.setdefault(segment, _Node())
                continue
            for existing, child in node.templates:
                if existing.names == template.names and (
                    (existing.regex is None and template.regex is None)
                    or (
                        existing.regex is not None
                        and template.regex is not None
                        and existing.regex.pattern == template.regex.pattern
                    )
                ):
                    node = child
                    break
            else:
                child = _Node[T]()
                node.templates.append((template, child))
                node.templates.sort(key=lambda pair: pair[0].regex is None)
                node = child
        node.path = path
        node.methods[method.upper()] = target

    def match(self, method: str, raw_path: str) -> Match[T] | MethodMismatch | None:
        """The target for ``method`` at ``raw_path`` (percent-encoded, starting with "/")."""
        segments = raw_path.split("/")[1:]
        found = self._find(self._root, segments, 0, {})
        if found is None:
            return None
        node, params = found
        assert node.path is not None
        target = node.methods.get(method.upper())
        if target is None and method.upper() == "HEAD":
            target = node.methods.get("GET")
        if target is None:
            allowed = set(node.methods)
            if "GET" in allowed:
                allowed.add("HEAD")  # served as GET without the body
            return MethodMismatch(node.path, tuple(sorted(allowed)))
        return Match(node.path, target, params)

    def _find(
        self, node: _Node[T], segments: list[str], i: int, params: dict[str, str]
    ) -> tuple[_Node[T], dict[str, str]] | None:
        if i == len(segments):
            return (node, params) if node.methods else None
        raw = segments[i]
        child = node.literals.get(unquote(raw))
        if child is not None:
            found = self._find(child, segments, i + 1, params)
            if found is not None:
                return found
        if not raw:
            return None  # an empty segment never fills a parameter
        value = unquote(raw)
        for template, next_node in node.templates:
            if template.regex is None:
                bound = {template.names[0]: value}
            else:
                groups = template.regex.fullmatch(value)
                if groups is None:
                    continue
                bound = dict(zip(template.names, groups, strict=True))
            found = self._find(next_node, segments, i + 1, {**params, **bound})
            if found is not None:
                return found
        return None
