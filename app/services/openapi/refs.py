"""``$ref``s in a document: finding them, resolving the local ones, and never following the others.

Only references inside the document (``#/...`` pointers and ``#name`` anchors) are ever resolved.
A reference to another file or URL is a problem to report, not something to fetch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.services.openapi.problems import DocProblem, fragment_parts, pointer, resolve_pointer

__all__ = [
    "Parts",
    "Ref",
    "RefCheck",
    "check_refs",
    "iter_objects",
    "iter_refs",
    "maybe_unwalked",
    "replace_nodes",
    "resolve_local",
]

Parts = tuple[str | int, ...]

# Members whose values are data (examples, defaults, enumerations), not document structure.
_DATA_KEYS = frozenset({"example", "default", "enum", "const"})
# Members whose keys are names chosen by the author (so "default", "x-..." are names there).
NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "paths",
        "webhooks",
        "responses",
        "content",
        "headers",
        "encoding",
        "callbacks",
        "links",
        "examples",
        "variables",
        "schemas",
        "parameters",
        "requestBodies",
        "securitySchemes",
        "pathItems",
    }
)
_REF_KEYS = ("$ref", "$dynamicRef")
# Keywords that apply a subschema to the same value: a cycle through only these never ends.
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("not", "if", "then", "else")


@dataclass(frozen=True, slots=True)
class Ref:
    """One reference: where the referring object is, the keyword, and the reference text."""

    parts: Parts  # of the object holding the reference
    keyword: str  # "$ref" or "$dynamicRef"
    value: str

    @property
    def pointer(self) -> str:
        return pointer((*self.parts, self.keyword))

    @property
    def is_local(self) -> bool:
        return self.value.startswith("#")


def iter_objects(document: Any, *, at: Parts = ()) -> Iterator[tuple[dict[str, Any], Parts]]:
    """Every object of the document's structure (not inside example data or extensions, and not
    the maps of author-chosen names themselves), or of the part of it at ``at``; in document
    order."""
    try:
        start = resolve_pointer(document, [str(p) for p in at])
    except LookupError:
        return
    # (node, parts, is the node a map of author-chosen names?)
    stack: list[tuple[Any, Parts, bool]] = [(start, at, False)]
    while stack:
        node, parts, names = stack.pop()
        if isinstance(node, dict):
            if not names:
                yield node, parts
            children: list[tuple[Any, Parts, bool]] = []
            for key, value in node.items():
                if not isinstance(value, (dict, list)):
                    continue
                if not names:
                    if key in _DATA_KEYS or key.startswith("x-"):
                        continue
                    if key == "examples" and isinstance(value, list):
                        continue  # JSON Schema examples: a list of values
                    if key == "value" and len(parts) >= 2 and parts[-2] == "examples":
                        continue  # an Example Object's value
                children.append((value, (*parts, key), (not names) and key in NAME_MAPS))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(
                (item, (*parts, index), False)
                for index, item in reversed(list(enumerate(node)))
                if isinstance(item, (dict, list))
            )


def iter_refs(document: Any, *, at: Parts = ()) -> Iterator[Ref]:
    """Every ``$ref``/``$dynamicRef`` in the document's structure (not inside example data or
    extensions), or in the part of it at ``at``."""
    for node, parts in iter_objects(document, at=at):
        for keyword in _REF_KEYS:
            value = node.get(keyword)
            if isinstance(value, str):
                yield Ref(parts, keyword, value)


def _anchors(document: Any) -> dict[str, Parts]:
    found: dict[str, Parts] = {}
    stack: list[tuple[Any, Parts]] = [(document, ())]
    while stack:
        node, parts = stack.pop()
        if isinstance(node, dict):
            for keyword in ("$anchor", "$dynamicAnchor"):
                name = node.get(keyword)
                if isinstance(name, str):
                    found.setdefault(name, parts)
            stack.extend(
                (value, (*parts, key))
                for key, value in node.items()
                if isinstance(value, (dict, list))
            )
        elif isinstance(node, list):
            stack.extend(
                (item, (*parts, i)) for i, item in enumerate(node) if isinstance(item, (dict, list))
            )
    return found


def _typed_parts(document: Any, parts: list[str]) -> Parts:
    """Pointer segments with list indices as ints (as :func:`iter_refs` reports parts)."""
    typed: list[str | int] = []
    node = document
    for token in parts:
        if isinstance(node, list):
            typed.append(int(token))
            node = node[int(token)]
        else:
            typed.append(token)
            node = node[token]
    return tuple(typed)


class _Resolver:
    def __init__(self, document: Any) -> None:
        self.document = document
        self._anchors: dict[str, Parts] | None = None

    def target(self, ref: str) -> Parts | None:
        """Parts of a local reference's target, or None when it resolves to nothing."""
        if not ref.startswith("#"):
            return None
        fragment = ref[1:]
        if fragment == "" or fragment.startswith("/"):
            try:
                parts = fragment_parts(fragment)
                resolve_pointer(self.document, parts)
            except (LookupError, ValueError):
                return None
            return _typed_parts(self.document, parts)
        if self._anchors is None:
            self._anchors = _anchors(self.document)
        return self._anchors.get(fragment)


def resolve_local(document: Any, ref: str) -> Any:
    """The target of a local reference; raises LookupError (also for non-local references)."""
    parts = _Resolver(document).target(ref)
    if parts is None:
        raise LookupError(ref)
    return resolve_pointer(document, [str(p) for p in parts])


@dataclass(frozen=True, slots=True)
class RefCheck:
    problems: list[DocProblem]
    bad: list[Ref]  # refs that must not be followed: remote, unresolvable or in an endless cycle
    targets: dict[Parts, Parts]  # ref object parts -> target parts, for the local good ones


def check_refs(document: Any) -> RefCheck:
    """Report remote/file refs (never followed), unresolvable local refs and endless ref cycles."""
    problems: list[DocProblem] = []
    bad: list[Ref] = []
    targets: dict[Parts, Parts] = {}
    resolver = _Resolver(document)
    refs = list(iter_refs(document))  # grows while looping: see below
    seen = {(ref.parts, ref.keyword) for ref in refs}
    walked: set[Parts] = set()
    index = 0
    while index < len(refs):
        ref = refs[index]
        index += 1
        if not ref.is_local:
            problems.append(
                DocProblem(
                    ref.pointer,
                    f"The {ref.keyword} {ref.value[:200]!r} points outside this document; remote"
                    " and file references are not followed. Put the definition under components"
                    " and refer to it with '#/components/...'.",
                )
            )
            bad.append(ref)
            continue
        target = resolver.target(ref.value)
        if target is None:
            problems.append(
                DocProblem(
                    ref.pointer,
                    f"The {ref.keyword} {ref.value[:200]!r} does not resolve to anything in this"
                    " document.",
                )
            )
            bad.append(ref)
            continue
        if ref.keyword == "$ref":
            targets[ref.parts] = target
        if target not in walked and maybe_unwalked(target):
            # e.g. a schema kept under an x- extension: its own references count too
            walked.add(target)
            for extra in iter_refs(document, at=target):
                if (extra.parts, extra.keyword) not in seen:
                    seen.add((extra.parts, extra.keyword))
                    refs.append(extra)
    cyclic = _endless_cycles(document, targets)
    by_parts = {ref.parts: ref for ref in refs if ref.keyword == "$ref"}
    for cycle in cyclic:
        first = by_parts[cycle[0]]
        route = " → ".join(pointer(parts) or "/" for parts in (*cycle, cycle[0]))
        problems.append(
            DocProblem(
                first.pointer,
                f"The $ref {first.value[:200]!r} leads back to itself without describing any"
                f" nested value ({route}), so validating against it would never end.",
            )
        )
        bad.extend(by_parts[parts] for parts in cycle)
    return RefCheck(problems, bad, targets)


def maybe_unwalked(parts: Parts) -> bool:
    """Whether :func:`iter_refs` may have skipped this place (extension or example data)."""
    return any(
        isinstance(token, str)
        and (token.startswith("x-") or token in _DATA_KEYS or token in ("examples", "value"))
        for token in parts
    )


def _in_place_refs(document: Any, start: Parts) -> list[Parts]:
    """Ref objects reachable from ``start`` while staying on the same value (allOf, not, ...)."""
    found: list[Parts] = []
    try:
        node = resolve_pointer(document, [str(p) for p in start])
    except LookupError:
        return found
    stack: list[tuple[Any, Parts]] = [(node, start)]
    while stack:
        node, parts = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$ref"), str):
            found.append(parts)
        for keyword in _IN_PLACE_LISTS:
            items = node.get(keyword)
            if isinstance(items, list):
                stack.extend((item, (*parts, keyword, i)) for i, item in enumerate(items))
        for keyword in _IN_PLACE_ONE:
            sub = node.get(keyword)
            if isinstance(sub, dict):
                stack.append((sub, (*parts, keyword)))
    return found


def _endless_cycles(document: Any, targets: dict[Parts, Parts]) -> list[list[Parts]]:
    """Cycles of refs that never descend into the value (strongly connected, Tarjan, iterative)."""
    edges: dict[Parts, list[Parts]] = {}
    memo: dict[Parts, list[Parts]] = {}
    for source, target in targets.items():
        if target not in memo:
            memo[target] = [p for p in _in_place_refs(document, target) if p in targets]
        edges[source] = memo[target]

    index: dict[Parts, int] = {}
    low: dict[Parts, int] = {}
    on_stack: set[Parts] = set()
    stack: list[Parts] = []
    cycles: list[list[Parts]] = []
    counter = 0
    for root in sorted(edges, key=pointer):
        if root in index:
            continue
        work: list[tuple[Parts, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if i < len(successors):
                work.append((node, i + 1))
                nxt = successors[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[Parts] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    component.sort(key=pointer)
                    cycles.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles.sort(key=lambda c: pointer(c[0]))
    return cycles


def replace_nodes(document: dict[str, Any], replacements: dict[Parts, Any]) -> dict[str, Any]:
    """A copy of the document with the nodes at the given parts replaced; the rest is shared."""
    root: dict[str, Any] = dict(document)
    copies: dict[Parts, Any] = {(): root}
    replaced: set[Parts] = set()
    for parts, replacement in sorted(replacements.items(), key=lambda kv: len(kv[0])):
        if not parts or any(parts[:n] in replaced for n in range(1, len(parts))):
            continue
        replaced.add(parts)
        node: Any = root
        for depth, token in enumerate(parts[:-1]):
            prefix = parts[: depth + 1]
            existing = copies.get(prefix)
            if existing is None:
                child = node[token]
                existing = dict(child) if isinstance(child, dict) else list(child)
                node[token] = existing
                copies[prefix] = existing
            node = existing
        node[parts[-1]] = replacement
        copies.pop(parts, None)
    return root
