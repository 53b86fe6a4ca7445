"""Schemas that make checking one value exponentially expensive, found before any request does.

``allOf``/``anyOf``/``oneOf``/``not``/``if``/``dependentSchemas`` and ``$ref`` apply other schemas
to the same value. When they repeat each other (``S0 = anyOf[S1, S1]``, ``S1 = anyOf[S2, S2]``,
…), the schemas applied to one value double at every level: thirty levels are a billion checks
for the body ``1``. The number is a property of the document alone, so it is computed here once,
at onboarding, and a schema over :data:`MAX_IN_PLACE` is refused at its pointer.

Work that grows with the *request* (a recursive schema applying itself twice per nesting level
of the body) cannot be bounded here; the per-request work budget of :mod:`keywords` stops it.
"""

from __future__ import annotations

from typing import Any

from app.services.openapi.problems import DocProblem, pointer, resolve_pointer
from app.services.openapi.refs import Parts, RefCheck, iter_objects, maybe_unwalked

__all__ = ["MAX_IN_PLACE", "expansion_problems", "in_place_costs"]

# Schemas applied to one value, at most (ordinary documents stay in the tens).
MAX_IN_PLACE = 10_000
_LISTS = ("allOf", "anyOf", "oneOf")
_ONE = ("not", "if", "then", "else")


def _children(node: dict[str, Any], parts: Parts, targets: dict[Parts, Parts]) -> list[Parts]:
    """The schemas ``node`` applies to the value it checks (not to values inside it)."""
    found: list[Parts] = []
    for keyword in _LISTS:
        members = node.get(keyword)
        if isinstance(members, list):
            found.extend((*parts, keyword, i) for i, m in enumerate(members) if isinstance(m, dict))
    for keyword in _ONE:
        if isinstance(node.get(keyword), dict):
            found.append((*parts, keyword))
    dependent = node.get("dependentSchemas")
    if isinstance(dependent, dict):
        found.extend(
            (*parts, "dependentSchemas", k) for k, v in dependent.items() if isinstance(v, dict)
        )
    target = targets.get(parts)
    if target is not None:
        found.append(target)
    return found


def in_place_costs(document: Any, refs: RefCheck) -> dict[Parts, int]:
    """For every object of the document (and every $ref target): how many schemas checking one
    value against it applies, itself included. A cycle (reported by the $ref check) counts once."""
    nodes: dict[Parts, dict[str, Any]] = {}
    roots: list[Parts] = [()]
    roots.extend(t for t in refs.targets.values() if maybe_unwalked(t))
    for root in roots:
        for node, parts in iter_objects(document, at=root):
            nodes.setdefault(parts, node)
    for target in refs.targets.values():
        if target not in nodes:
            try:
                value = resolve_pointer(document, [str(p) for p in target])
            except LookupError:
                continue
            if isinstance(value, dict):
                nodes[target] = value

    cost: dict[Parts, int] = {}
    in_progress: set[Parts] = set()
    for start in nodes:
        if start in cost:
            continue
        stack: list[tuple[Parts, bool]] = [(start, False)]
        while stack:
            parts, expanded = stack.pop()
            if parts in cost:
                continue
            found = nodes.get(parts)
            if found is None:
                cost[parts] = 1
                continue
            children = _children(found, parts, refs.targets)
            if expanded:
                in_progress.discard(parts)
                cost[parts] = 1 + sum(cost.get(c, 0) for c in children)
                continue
            in_progress.add(parts)
            stack.append((parts, True))
            stack.extend((c, False) for c in children if c not in cost and c not in in_progress)
    return cost


def _count(value: int) -> str:
    return f"{value:,}" if value < 10**15 else f"more than 10^{len(str(value)) - 1}"


def expansion_problems(document: Any, refs: RefCheck) -> list[DocProblem]:
    """A problem at each schema that applies more than MAX_IN_PLACE schemas to one value while
    none of those it applies directly does (where the multiplication happens)."""
    costs = in_place_costs(document, refs)
    problems: list[DocProblem] = []
    for parts, total in costs.items():
        if total <= MAX_IN_PLACE:
            continue
        node = resolve_pointer(document, [str(p) for p in parts])
        children = _children(node, parts, refs.targets) if isinstance(node, dict) else []
        if any(costs.get(child, 0) > MAX_IN_PLACE for child in children):
            continue
        problems.append(
            DocProblem(
                pointer(parts),
                f"Checking one value against this schema applies {_count(total)} schemas: its"
                " allOf/anyOf/oneOf members and $refs repeat the same schemas, and each level"
                f" multiplies the work. The gateway accepts at most {MAX_IN_PLACE:,}; refer to"
                " each schema once per level.",
            )
        )
    problems.sort(key=lambda p: p.pointer)
    return problems
