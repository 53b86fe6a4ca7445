"""``readOnly`` and ``writeOnly``: which ``required`` names a request, or a response, is held to.

OpenAPI 3.0 says it plainly: a property marked ``readOnly`` that is in a ``required`` list is
required in responses only, and a ``writeOnly`` one in requests only. 3.1 hands the two keywords
to JSON Schema, where they are annotations, and leaves the rule to implementations (3.1.1,
"Validating readOnly and writeOnly"); the gateway keeps it for 3.1 too, so a document means the
same after an upgrade. The usual way to write such a schema is to declare the property in one
``allOf`` member (a shared base) and require it in another::

    Pet:
      allOf:
        - $ref: '#/components/schemas/PetBase'    # properties: {id: {readOnly: true}, ...}
        - required: [id, name]

so the rule cannot be applied one schema object at a time, as jsonschema validates. Here it is
applied to the document instead: :func:`directional_view` gives the document as a request (or a
response) sees it, each ``required`` list without the names that a schema applying to the same
value (through ``$ref``, ``allOf``, ``anyOf``, ``oneOf``, ``then``/``else``) declares read-only
(write-only). A ``required`` list that several schemas reach through such families loses a name
when any of them marks it: the lenient choice, where the upstream still judges what it receives.

A read-only property that a request sends anyway is not refused ("SHOULD NOT be sent"): the
upstream owns its value and ignores it or says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from app.services.openapi.parsing import OpenAPIVersion
from app.services.openapi.refs import Parts, iter_objects, resolve_local

__all__ = ["Direction", "directional_view"]

Direction = Literal["request", "response"]
_HIDDEN: dict[Direction, str] = {"request": "readOnly", "response": "writeOnly"}
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("then", "else")
# Schemas one family may hold: far beyond real documents (the onboarding check refuses a schema
# that applies more than 10,000 to one value); a bigger family keeps its required lists as they
# are.
_MAX_FAMILY = 10_000


class _Reader:
    def __init__(self, document: Mapping[str, Any], version: OpenAPIVersion, flag: str) -> None:
        self.document = document
        self.version = version
        self.flag = flag
        self._targets: dict[str, Any] = {}
        self._marked: dict[int, frozenset[str]] = {}

    def target(self, ref: str) -> Any:
        if ref not in self._targets:
            try:
                self._targets[ref] = resolve_local(self.document, ref)
            except (LookupError, ValueError):
                self._targets[ref] = None
        return self._targets[ref]

    def carries_flag(self, schema: Any) -> bool:
        """Whether the flag applies to a property's schema: on itself, on what its ``$ref``
        points to, or on an ``allOf`` member (in 3.0 a reference's siblings do not count)."""
        stack: list[Any] = [schema]
        seen: set[int] = set()
        while stack and len(seen) < _MAX_FAMILY:
            node = stack.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            ref = node.get("$ref")
            if isinstance(ref, str):
                stack.append(self.target(ref))
                if self.version == "3.0":
                    continue
            if node.get(self.flag) is True:
                return True
            members = node.get("allOf")
            if isinstance(members, list):
                stack.extend(members)
        return False

    def marked(self, node: dict[str, Any]) -> frozenset[str]:
        """The names of the properties ``node`` declares with the flag."""
        found = self._marked.get(id(node))
        if found is None:
            properties = node.get("properties")
            found = frozenset(
                name
                for name, schema in (properties.items() if isinstance(properties, dict) else ())
                if self.carries_flag(schema)
            )
            self._marked[id(node)] = found
        return found

    def family(self, root: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The schemas applied to the same value as ``root`` (itself included); None if too many."""
        found: list[dict[str, Any]] = []
        stack: list[Any] = [root]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            found.append(node)
            if len(found) > _MAX_FAMILY:
                return None
            ref = node.get("$ref")
            if isinstance(ref, str):
                stack.append(self.target(ref))
                if self.version == "3.0":
                    continue
            for keyword in _IN_PLACE_LISTS:
                members = node.get(keyword)
                if isinstance(members, list):
                    stack.extend(members)
            for keyword in _IN_PLACE_ONE:
                stack.append(node.get(keyword))
        return found


def _applies_others(node: Mapping[str, Any]) -> bool:
    return "$ref" in node or any(k in node for k in (*_IN_PLACE_LISTS, *_IN_PLACE_ONE))


def _relieved(objects: list[dict[str, Any]], reader: _Reader) -> dict[int, set[str]]:
    """For each schema (by id) with a ``required`` list: the names it must not demand."""
    relieved: dict[int, set[str]] = {}
    for node in objects:
        if _applies_others(node):
            family = reader.family(node)
            if family is None:
                continue
        elif "properties" in node:
            family = [node]
        else:
            continue
        names: set[str] = set()
        for member in family:
            names |= reader.marked(member)
        if not names:
            continue
        for member in family:
            required = member.get("required")
            if isinstance(required, list):
                hit = names.intersection(n for n in required if isinstance(n, str))
                if hit:
                    relieved.setdefault(id(member), set()).update(hit)
    return relieved


def _with_required(document: Mapping[str, Any], changes: dict[Parts, list[Any]]) -> dict[str, Any]:
    """A copy of the document with the ``required`` lists at ``changes`` replaced (an empty one
    removed); everything not on the way to a change is shared, not copied."""
    root: dict[str, Any] = dict(document)
    copies: dict[Parts, Any] = {(): root}
    for parts, required in changes.items():
        node: Any = root
        for depth, token in enumerate(parts):
            prefix = parts[: depth + 1]
            copied = copies.get(prefix)
            if copied is None:
                child = node[token]
                copied = dict(child) if isinstance(child, dict) else list(child)
                node[token] = copied
                copies[prefix] = copied
            node = copied
        if required:
            node["required"] = required
        else:
            node.pop("required", None)
    return root


def directional_view(
    document: Mapping[str, Any], version: OpenAPIVersion, direction: Direction
) -> Mapping[str, Any]:
    """The document as a request (``readOnly`` names not required) or a response (``writeOnly``
    names not required) is validated against; the document itself when nothing changes.

    Pointers into the view are the document's: only ``required`` lists differ.
    """
    flag = _HIDDEN[direction]
    objects = list(iter_objects(document))
    if not any(node.get(flag) is True for node, _ in objects):
        return document
    relieved = _relieved([node for node, _ in objects], _Reader(document, version, flag))
    changes: dict[Parts, list[Any]] = {}
    for node, parts in objects:
        names = relieved.get(id(node))
        if names:
            changes[parts] = [n for n in node["required"] if n not in names]
    return _with_required(document, changes) if changes else document
