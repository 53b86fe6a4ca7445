"""Matching a provider's answer against a contract's expectations (see ``contracts/README.md``).

A JSON body is matched as a **subset**: objects need the keys they list, arrays need at least the
elements they list, literals must be equal, and matcher objects (``$type``, ``$regex``, ``$anyOf``,
``$each``) stand for a range of values. Headers are literal strings or ``$regex``/``$anyOf``. XML
answers are parsed with defusedxml (no DTDs, no entities) and each listed ElementTree path's text is
matched. Every function returns the mismatches found, empty when the answer matches. ``$regex``
patterns run on RE2 (:mod:`app.core.safe_regex`): linear time, no look-around or back-references.

:func:`example_of` turns an expected body into the answer a stub gives: every matcher replaced by
its example.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

from app.core.safe_regex import PatternRefused, compile_pattern

__all__ = [
    "MATCHER_KEYS",
    "TYPE_NAMES",
    "Mismatch",
    "example_of",
    "is_matcher",
    "json_path",
    "json_type_of",
    "match_header",
    "match_json",
    "match_xml",
    "parse_xml",
    "show",
    "type_default",
    "value_has_type",
]

MATCHER_KEYS = ("$type", "$regex", "$anyOf", "$each")
TYPE_NAMES = ("string", "number", "integer", "boolean", "array", "object", "null")
DISPLAY_LIMIT = 80
MISSING = "(missing)"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_XML_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_XML_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_TYPE_DEFAULTS: dict[str, Any] = {
    "string": "string",
    "number": 0.5,
    "integer": 0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}
_KIND_PHRASES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One way an answer differs from what the contract expects.

    ``path`` is a JSON path into the answer (``$.records[0].balance``), ``header <name>`` for a
    header, or the ElementTree path for XML. ``expected`` and ``actual`` are short display strings
    (values truncated to about 80 characters); ``reason`` is a short phrase.
    """

    path: str
    expected: str
    actual: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason} (expected {self.expected}, got {self.actual})"


# --- helpers ------------------------------------------------------------------------------------


def show(value: Any, limit: int = DISPLAY_LIMIT) -> str:
    """A value as short display text: JSON (non-ASCII kept), cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_path(base: str, step: str | int) -> str:
    """``$`` + ``"records"`` → ``$.records``; + ``0`` → ``$.records[0]``; odd keys ``$['a b']``."""
    if isinstance(step, int):
        return f"{base}[{step}]"
    if _IDENTIFIER.match(step):
        return f"{base}.{step}"
    escaped = step.replace("\\", "\\\\").replace("'", "\\'")
    return f"{base}['{escaped}']"


def is_matcher(value: Any) -> bool:
    """Whether a node of an expected body is a matcher object (has ``$type``, ``$regex``,
    ``$anyOf`` or ``$each``) rather than a literal object."""
    return isinstance(value, Mapping) and any(key in value for key in MATCHER_KEYS)


def json_type_of(value: Any) -> str:
    """The JSON type name of a value: integer for ints (not bools), number for floats."""
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
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def value_has_type(value: Any, type_name: str) -> bool:
    """``$type`` semantics: integer is an int (not a bool), number an int or float (not a bool)."""
    kind = json_type_of(value)
    if type_name == "number":
        return kind in ("integer", "number")
    return kind == type_name


def type_default(type_name: str) -> Any:
    """The example a ``$type`` matcher has when it gives none."""
    return copy.deepcopy(_TYPE_DEFAULTS.get(type_name))


def _kind_phrase(value: Any) -> str:
    return _KIND_PHRASES.get(json_type_of(value), json_type_of(value))


def _equal(expected: Any, actual: Any) -> bool:
    """Literal equality as JSON sees it: 1 == 1.0, but true is not 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    if expected is None or actual is None:
        return expected is None and actual is None
    return type(expected) is type(actual) and bool(expected == actual)


# --- JSON ---------------------------------------------------------------------------------------


def match_json(expected: Any, actual: Any, path: str = "$") -> list[Mismatch]:
    """Every way ``actual`` fails to match the expected matcher tree (empty: it matches)."""
    if is_matcher(expected):
        return _match_matcher(expected, actual, path)
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [Mismatch(path, "an object", show(actual), f"is {_kind_phrase(actual)}")]
        found: list[Mismatch] = []
        for key, value in expected.items():
            where = json_path(path, str(key))
            if key not in actual:
                found.append(Mismatch(where, show(value), MISSING, "is missing"))
            else:
                found.extend(match_json(value, actual[key], where))
        return found
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, list):
            return [Mismatch(path, "an array", show(actual), f"is {_kind_phrase(actual)}")]
        found = []
        if len(actual) < len(expected):
            found.append(
                Mismatch(
                    path,
                    f"at least {len(expected)} item{'s' if len(expected) != 1 else ''}",
                    f"{len(actual)} item{'s' if len(actual) != 1 else ''}",
                    "has too few items",
                )
            )
        for index, (item, value) in enumerate(zip(expected, actual, strict=False)):
            found.extend(match_json(item, value, json_path(path, index)))
        return found
    if _equal(expected, actual):
        return []
    return [Mismatch(path, show(expected), show(actual), "is not equal")]


def _match_matcher(matcher: Mapping[str, Any], actual: Any, path: str) -> list[Mismatch]:
    if "$type" in matcher:
        type_name = str(matcher["$type"])
        if value_has_type(actual, type_name):
            return []
        phrase = _KIND_PHRASES.get(type_name, type_name)
        return [
            Mismatch(
                path, f"$type {type_name}", show(actual), f"is {_kind_phrase(actual)}, not {phrase}"
            )
        ]
    if "$regex" in matcher:
        pattern = str(matcher["$regex"])
        expected = f"$regex {show(pattern)}"
        if not isinstance(actual, str):
            return [
                Mismatch(path, expected, show(actual), f"is {_kind_phrase(actual)}, not a string")
            ]
        # RE2 (linear time): the answer is the provider's, the pattern the contract author's.
        try:
            compiled = compile_pattern(pattern)
        except PatternRefused as refused:
            return [Mismatch(path, expected, show(actual), f"the regex cannot be used: {refused}")]
        if not compiled.search(actual):
            return [Mismatch(path, expected, show(actual), "does not match the regex")]
        return []
    if "$anyOf" in matcher:
        return _match_any_of(
            matcher["$anyOf"], lambda m: match_json(m, actual, path), path, show(actual)
        )
    # $each
    element = matcher["$each"]
    minimum = matcher.get("$min", 0)
    minimum = minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else 0
    expected = f"$each (at least {minimum})" if minimum else "$each"
    if not isinstance(actual, list):
        return [Mismatch(path, expected, show(actual), f"is {_kind_phrase(actual)}, not an array")]
    found: list[Mismatch] = []
    if len(actual) < minimum:
        found.append(
            Mismatch(
                path,
                f"at least {minimum} item{'s' if minimum != 1 else ''}",
                f"{len(actual)} item{'s' if len(actual) != 1 else ''}",
                "has too few items",
            )
        )
    for index, value in enumerate(actual):
        found.extend(match_json(element, value, json_path(path, index)))
    return found


def _match_any_of(
    alternatives: Any,
    attempt: Any,
    path: str,
    actual_shown: str,
) -> list[Mismatch]:
    options = list(alternatives) if isinstance(alternatives, (list, tuple)) else []
    reasons: list[str] = []
    for option in options:
        found = attempt(option)
        if not found:
            return []
        reasons.append(found[0].reason)
    count = len(options)
    reason = f"matches none of the {count} alternative{'s' if count != 1 else ''}"
    if reasons:
        reason += ": " + "; ".join(reasons)
    return [Mismatch(path, show({"$anyOf": options}), actual_shown, _cut(reason))]


def _cut(text: str, limit: int = 2 * DISPLAY_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- headers ------------------------------------------------------------------------------------


def match_header(expected: Any, actual: str | None, name: str) -> list[Mismatch]:
    """Match one header's value: a literal string (exactly equal), ``$regex`` or ``$anyOf``.

    ``actual`` is None when the answer has no such header (a mismatch).
    """
    path = f"header {name}"
    if actual is None:
        return [Mismatch(path, show(expected), MISSING, "is missing")]
    return _match_header_value(expected, actual, path)


def _match_header_value(expected: Any, actual: str, path: str) -> list[Mismatch]:
    if isinstance(expected, Mapping) and "$anyOf" in expected:
        return _match_any_of(
            expected["$anyOf"],
            lambda m: _match_header_value(m, actual, path),
            path,
            show(actual),
        )
    if is_matcher(expected):
        return _match_matcher(expected, actual, path)
    text = expected if isinstance(expected, str) else _scalar_text(expected)
    if actual == text:
        return []
    return [Mismatch(path, show(text), show(actual), "is not equal")]


# --- XML ----------------------------------------------------------------------------------------


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _same_number(expected: Any, text: str) -> bool:
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        return False
    if not _XML_NUMBER.match(text):
        return False
    try:
        return Decimal(text) == Decimal(str(expected))
    except InvalidOperation:
        return False


def _match_xml_text(expected: Any, text: str, path: str) -> list[Mismatch]:
    if isinstance(expected, Mapping) and "$anyOf" in expected:
        return _match_any_of(
            expected["$anyOf"], lambda m: _match_xml_text(m, text, path), path, show(text)
        )
    if isinstance(expected, Mapping) and "$type" in expected:
        type_name = str(expected["$type"])
        ok = {
            "string": True,
            "number": bool(_XML_NUMBER.match(text)),
            "integer": bool(_XML_INTEGER.match(text)),
            "boolean": text in ("true", "false"),
            "null": text == "",
        }.get(type_name)
        if ok is None:
            return [
                Mismatch(path, f"$type {type_name}", show(text), "XML text cannot be of this type")
            ]
        if ok:
            return []
        return [
            Mismatch(
                path,
                f"$type {type_name}",
                show(text),
                f"is not {_KIND_PHRASES.get(type_name, type_name)}",
            )
        ]
    if isinstance(expected, Mapping) and "$regex" in expected:
        return _match_matcher(expected, text, path)
    if is_matcher(expected):
        return [Mismatch(path, show(expected), show(text), "this matcher does not apply to XML")]
    if isinstance(expected, (Mapping, list, tuple)):
        return [Mismatch(path, show(expected), show(text), "XML text is matched with scalars only")]
    wanted = _scalar_text(expected)
    if text == wanted or _same_number(expected, text):
        return []
    return [Mismatch(path, show(wanted), show(text), "is not equal")]


def parse_xml(body: bytes) -> tuple[Element | None, Mismatch | None]:
    """The root element of an XML answer, parsed safely, or the one mismatch saying why not."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        why = "it has a document type declaration (DTD), which is not accepted"
        return None, Mismatch("xml", "safe XML", "XML with a DTD", f"the XML was refused: {why}")
    except EntitiesForbidden as exc:
        why = f"it declares the entity {exc.name!r}; entity declarations are not accepted"
        return None, Mismatch("xml", "safe XML", "XML with entities", f"the XML was refused: {why}")
    except DefusedXmlException as exc:
        why = f"{type(exc).__name__}: external references are not accepted"
        return None, Mismatch(
            "xml", "safe XML", "XML with external references", f"the XML was refused: {why}"
        )
    except ParseError as exc:
        return None, Mismatch(
            "xml", "well-formed XML", show(_preview(body)), f"malformed XML: {exc}"
        )
    return root, None


def _preview(body: bytes) -> str:
    return body[:DISPLAY_LIMIT].decode("utf-8", errors="replace")


def match_xml(expected: Mapping[str, Any], body: bytes) -> list[Mismatch]:
    """Match an XML answer: each key is an ElementTree path found from the root
    (``root.find(path)``, ``{uri}tag`` for namespaces), the element's stripped text is matched.

    Literal scalars are compared as text (``12.5`` matches ``12.5``; numbers also by value, so
    ``12.5`` matches ``12.50``); ``$type`` number/integer/boolean mean the text reads as one;
    ``$regex`` and ``$anyOf`` as for JSON. A refused or malformed document is one mismatch at
    ``xml``.
    """
    root, refused = parse_xml(body)
    if refused is not None:
        return [refused]
    assert root is not None
    found: list[Mismatch] = []
    for path, matcher in expected.items():
        try:
            element = root.find(path)
        except (SyntaxError, KeyError, ValueError) as exc:
            found.append(
                Mismatch(path, show(matcher), MISSING, f"not a valid ElementTree path: {exc}")
            )
            continue
        if element is None:
            found.append(Mismatch(path, show(matcher), MISSING, "no element at this path"))
            continue
        text = (element.text or "").strip()
        found.extend(_match_xml_text(matcher, text, path))
    return found


# --- examples -----------------------------------------------------------------------------------


def example_of(expected: Any) -> Any:
    """The answer a stub gives for an expected body: every matcher replaced by its example.

    ``$type`` without an example gives "string", 0.5 (number), 0 (integer), true, [], {} or null;
    ``$anyOf`` the first alternative's example; ``$each`` its ``example``, else
    ``max($min, 1)`` copies of its element's example.
    """
    if isinstance(expected, Mapping):
        if "$type" in expected:
            if "example" in expected:
                return copy.deepcopy(expected["example"])
            return type_default(str(expected["$type"]))
        if "$regex" in expected:
            return copy.deepcopy(expected.get("example"))
        if "$anyOf" in expected:
            options = expected["$anyOf"]
            return (
                example_of(options[0]) if isinstance(options, (list, tuple)) and options else None
            )
        if "$each" in expected:
            if "example" in expected:
                return copy.deepcopy(expected["example"])
            minimum = expected.get("$min", 0)
            count = max(minimum if isinstance(minimum, int) else 0, 1)
            return [example_of(expected["$each"]) for _ in range(count)]
        return {str(key): example_of(value) for key, value in expected.items()}
    if isinstance(expected, (list, tuple)):
        return [example_of(item) for item in expected]
    return expected
