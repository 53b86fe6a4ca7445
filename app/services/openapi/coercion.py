"""Turning the strings of a request (path, query, header, form fields) into typed values.

A parameter's schema says what type its value has; the request carries text. Before validation
each value is converted to the schema's type: ``"42"`` to 42 for an integer, ``"true"`` to True
for a boolean, ``"a,b"`` to ``["a", "b"]`` for a comma-separated array. A value that cannot be
converted is an error ("must be an integer"), never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from referencing._core import Resolver
from referencing.exceptions import Unresolvable

__all__ = ["NOT_CONVERTED", "SchemaShape", "coerce_scalar", "shape_of"]

_INTEGER = re.compile(r"^-?\d+$")
# Unambiguous on purpose: "\d+\.?\d*" lets the two digit runs split a long number in every way,
# so a thousand digits and an "x" took 30 ms (a form of a thousand such fields, 30 s).
_NUMBER = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_SCALARS = ("integer", "number", "boolean", "null", "string")


class _NotConverted:
    def __repr__(self) -> str:
        return "NOT_CONVERTED"


NOT_CONVERTED: Any = _NotConverted()


@dataclass(frozen=True, slots=True)
class SchemaShape:
    """What a schema says about the JSON type of a value, after references and combinations."""

    types: frozenset[str] = frozenset()  # empty: unknown (any)
    items: SchemaShape | None = None
    properties: Mapping[str, SchemaShape] = field(default_factory=dict)

    @property
    def is_array(self) -> bool:
        return "array" in self.types and not (self.types & {"string", "object"})

    @property
    def is_object(self) -> bool:
        return "object" in self.types and not (self.types & {"string", "array"})


_ANY = SchemaShape()
_MAX_DEPTH = 12


def _value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_of(schema: Any, resolver: Resolver[Any]) -> SchemaShape:
    """The shape of a schema, following local references through ``resolver``.

    Only as deep as conversion looks (an object's properties, an array's items, a property's
    items); each schema object is read once per level, so a schema that refers to itself many
    times over costs its size, not its number of paths.
    """
    return _shape(schema, resolver, _LEVELS, 0, {})


# Parameters and form fields are converted at most this many levels below their schema
# (object -> property -> array items).
_LEVELS = 2


def _shape(
    schema: Any,
    resolver: Resolver[Any],
    levels: int,
    depth: int,
    memo: dict[tuple[int, int], SchemaShape],
) -> SchemaShape:
    if depth > _MAX_DEPTH or not isinstance(schema, dict):
        return _ANY
    key = (id(schema), levels)
    known = memo.get(key)
    if known is not None:
        return known
    memo[key] = _ANY  # a reference back to a schema being read adds nothing
    shape = _read_shape(schema, resolver, levels, depth, memo)
    memo[key] = shape
    return shape


def _read_shape(
    schema: dict[str, Any],
    resolver: Resolver[Any],
    levels: int,
    depth: int,
    memo: dict[tuple[int, int], SchemaShape],
) -> SchemaShape:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable:
            return _ANY
        return _shape(resolved.contents, resolved.resolver, levels, depth + 1, memo)

    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(t for t in declared if isinstance(t, str))
    if schema.get("nullable") is True and types:
        types.add("null")
    if not types:
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            types.update(_value_type(v) for v in schema["enum"])
        elif "const" in schema:
            types.add(_value_type(schema["const"]))
        elif isinstance(schema.get("properties"), dict):
            types.add("object")
        elif isinstance(schema.get("items"), dict):
            types.add("array")

    items = None
    properties: dict[str, SchemaShape] = {}
    if levels > 0:
        if isinstance(schema.get("items"), dict):
            items = _shape(schema["items"], resolver, levels - 1, depth + 1, memo)
        if isinstance(schema.get("properties"), dict):
            for name, sub in schema["properties"].items():
                properties[name] = _shape(sub, resolver, levels - 1, depth + 1, memo)

    for keyword in ("allOf", "anyOf", "oneOf"):
        members = schema.get(keyword)
        if not isinstance(members, list):
            continue
        shapes = [_shape(m, resolver, levels, depth + 1, memo) for m in members]
        member_types = [s.types for s in shapes if s.types]
        if member_types and not declared:
            if keyword == "allOf":
                merged = set(member_types[0])
                for other in member_types[1:]:
                    merged &= other
                types.update(merged or member_types[0])
            else:
                for t in member_types:
                    types.update(t)
        for shape in shapes:
            if items is None and shape.items is not None:
                items = shape.items
            for name, sub in shape.properties.items():
                properties.setdefault(name, sub)
    return SchemaShape(frozenset(types), items, properties)


def coerce_scalar(text: str, types: frozenset[str]) -> Any:
    """``text`` as a value of one of ``types``; NOT_CONVERTED when it cannot be one.

    A string type keeps the text as it is; otherwise the most specific type that reads it wins.
    Unknown types (empty) keep the text.
    """
    if not types or "string" in types:
        return text
    if "null" in types and text in ("", "null"):
        return None
    if len(text) > 1000:  # no number is that long (and int() refuses beyond 4300 digits)
        return text if not types & set(_SCALARS) else NOT_CONVERTED
    if "number" in types:
        if _NUMBER.match(text):
            if _INTEGER.match(text):
                return int(text)
            return float(text)
    elif "integer" in types and _INTEGER.match(text):
        return int(text)
    if "boolean" in types:
        lowered = text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    if not types & set(_SCALARS):  # array/object with nothing to read it by: keep the text
        return text
    return NOT_CONVERTED
