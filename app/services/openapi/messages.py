"""Plain sentences for JSON Schema validation errors.

``jsonschema`` messages echo the offending value (``'abc' is not of type 'integer'``) and, for
``oneOf``/``anyOf``, say only that nothing matched. Here a failed ``oneOf``/``anyOf`` is explained
by the errors of the alternative that came closest (skipping ``$ref``-only alternatives and those
whose discriminating field, such as a parameter's ``in``, did not match), and each error becomes
either a short predicate for a request field (``must be an integer``) or a sentence about a
document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

from app.core.safe_regex import search as pattern_search
from app.services.openapi.keywords import UnexpectedProperties

__all__ = [
    "closest_errors",
    "describe_value",
    "document_sentence",
    "missing_properties",
    "request_detail",
    "unexpected_properties",
]

_COMBINATORS = frozenset({"oneOf", "anyOf"})
_DISCRIMINATING = frozenset({"enum", "const"})
_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "object": "an object",
    "null": "null",
}
_FORMAT_NAMES = {
    "int32": "a 32-bit integer",
    "int64": "a 64-bit integer",
    "float": "a floating-point number",
    "double": "a floating-point number",
    "byte": "base64-encoded text",
    "date": "a date (YYYY-MM-DD)",
    "date-time": "a date and time (RFC 3339, e.g. 2024-05-01T08:00:00+08:00)",
    "time": "a time (RFC 3339, e.g. 08:00:00+08:00)",
    "email": "an email address",
    "uuid": "a UUID",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "regex": "a regular expression",
}
_UNEXPECTED = re.compile(r"\((.*) (?:was|were) unexpected\)")


def describe_value(value: Any) -> str:
    """What kind of JSON value this is, as a noun phrase ("a string", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    phrases = [_TYPE_NAMES.get(str(n), str(n)) for n in names]
    if not phrases:
        return "of the declared type"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _one_of(values: Any, limit: int = 10) -> str:
    items = values if isinstance(values, list) else [values]  # not copied: enums can be huge
    shown = ", ".join(_show(v, 40) for v in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def _branch_of(error: ValidationError) -> int:
    path = list(error.relative_schema_path)
    return int(path[0]) if path and isinstance(path[0], int) else -1


def _requires_ref(error: ValidationError) -> bool:
    required = error.validator_value
    return error.validator == "required" and isinstance(required, list) and "$ref" in required


def closest_errors(error: ValidationError, *, for_request: bool = False) -> list[ValidationError]:
    """The errors that explain ``error``: itself, or for oneOf/anyOf the closest alternative's.

    When the value's discriminating field (an ``enum``/``const`` member such as ``type``) fits no
    alternative, a document is told what the closest alternative wants there. A request
    (``for_request``) is told that it matches none of the allowed forms in that case, and when
    two alternatives are equally close with different errors: naming one alternative's errors
    would suggest it is the only one.
    """
    if error.validator not in _COMBINATORS or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(_branch_of(sub), []).append(sub)
    instance = error.instance
    has_ref = isinstance(instance, dict) and "$ref" in instance
    depth = len(error.absolute_path)
    candidates: list[list[ValidationError]] = []
    for _, errors in sorted(branches.items()):
        if not has_ref and any(_requires_ref(e) and len(e.absolute_path) == depth for e in errors):
            continue  # the "it could be a $ref" alternative
        if (
            any(
                e.validator in _DISCRIMINATING and len(e.absolute_path) == depth + 1 for e in errors
            )
            and len(branches) > 1
        ):
            continue  # an alternative for another kind (e.g. another parameter location)
        candidates.append(errors)
    if not candidates:
        if for_request:
            return [error]
        candidates = [errors for _, errors in sorted(branches.items())]
    if len(candidates) > 1 and all(_only_requires(errors, depth) for errors in candidates):
        return [error]  # "needs one of these fields": said by the combinator itself
    best = min(candidates, key=len)
    tied = [other for other in candidates if len(other) == len(best)]
    if for_request and any(_signature(other) != _signature(best) for other in tied):
        # No alternative is closer than another: naming one would mislead.
        return [_types_of(tied, depth) or error]
    specific = [e for e in best if e.validator not in _COMBINATORS or e.context]
    chosen = specific or best
    result: list[ValidationError] = []
    for sub in chosen:
        result.extend(closest_errors(sub, for_request=for_request))
    return result or [error]


def _signature(errors: list[ValidationError]) -> frozenset[tuple[Any, ...]]:
    return frozenset((tuple(e.absolute_path), e.validator, e.message) for e in errors)


def _types_of(alternatives: list[list[ValidationError]], depth: int) -> ValidationError | None:
    """Alternatives that each only want another type of the value: one error naming them all
    ("must be a string or an integer"), else None."""
    names: list[Any] = []
    for errors in alternatives:
        if len(errors) != 1 or errors[0].validator != "type":
            return None
        if len(errors[0].absolute_path) != depth:
            return None
        value = errors[0].validator_value
        wanted = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        names.extend(name for name in wanted if name not in names)
    first = alternatives[0][0]
    return ValidationError(
        f"{first.instance!r} is not of type {', '.join(repr(n) for n in names)}",
        validator="type",
        validator_value=names,
        instance=first.instance,
        schema={},
        path=list(first.absolute_path),
    )


def _only_requires(errors: list[ValidationError], depth: int) -> bool:
    return (
        len(errors) == 1
        and errors[0].validator == "required"
        and (len(errors[0].absolute_path) == depth)
    )


def alternative_fields(error: ValidationError) -> list[str]:
    """For a oneOf/anyOf of alternatives that each require a field: the fields, else []."""
    if error.validator not in _COMBINATORS or not error.context:
        return []
    depth = len(error.absolute_path)
    names: list[str] = []
    for sub in error.context:
        if not _only_requires([sub], depth):
            return []
        names.extend(n for n in missing_properties(sub) if n not in names)
    return names


def missing_properties(error: ValidationError) -> list[str]:
    """The property names a ``required`` error is about."""
    required = error.validator_value
    instance = error.instance
    if not isinstance(required, list) or not isinstance(instance, dict):
        return []
    return [str(name) for name in required if name not in instance]


def unexpected_properties(error: ValidationError) -> list[str]:
    """The property names an ``additionalProperties``/``unevaluatedProperties`` error is about."""
    if isinstance(error, UnexpectedProperties):
        return [str(name) for name in error.names]
    instance = error.instance
    if not isinstance(instance, dict):
        return []
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        properties = schema.get("properties") or {}
        patterns = list((schema.get("patternProperties") or {}).keys())
        names = []
        for name in instance:
            if name in properties:
                continue
            if any(pattern_search(p, str(name)) for p in patterns):
                continue
            names.append(str(name))
        return names
    match = _UNEXPECTED.search(error.message)
    if match is None:
        return []
    return [n.strip().strip("'\"") for n in match.group(1).split(",")]


def _bound(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.validator_value
    kind = error.validator
    if kind == "minimum":
        if schema.get("exclusiveMinimum") is True:
            return f"must be greater than {_show(value)}"
        return f"must be at least {_show(value)}"
    if kind == "maximum":
        if schema.get("exclusiveMaximum") is True:
            return f"must be less than {_show(value)}"
        return f"must be at most {_show(value)}"
    if kind == "exclusiveMinimum":
        return f"must be greater than {_show(value)}"
    return f"must be less than {_show(value)}"


def _predicate(error: ValidationError) -> str:
    """A predicate for the value the error is about: "must be an integer"."""
    kind = error.validator
    value: Any = error.validator_value
    if kind == "type":  # OpenAPI 3.0's nullable is among the types (keywords._nullable_type)
        return f"must be {_types(value)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _bound(error)
    if kind == "minLength":
        return f"must be at least {value} character{'s' if value != 1 else ''} long"
    if kind == "maxLength":
        return f"must be at most {value} character{'s' if value != 1 else ''} long"
    if kind == "pattern":
        text = str(value)
        return f"must match the pattern {text if len(text) <= 120 else text[:119] + '…'}"
    if kind == "enum":
        if isinstance(value, list) and not value:
            return "cannot have any value: the schema's enum lists none"
        return f"must be one of {_one_of(value)}"
    if kind == "const":
        return f"must be {_show(value)}"
    if kind == "format":
        return f"must be {_FORMAT_NAMES.get(str(value), f'in the {value} format')}"
    if kind == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if kind == "maxItems":
        return f"must have at most {value} item{'s' if value != 1 else ''}"
    if kind == "uniqueItems":
        return "must not contain the same item twice"
    if kind == "minProperties":
        return f"must have at least {value} propert{'ies' if value != 1 else 'y'}"
    if kind == "maxProperties":
        return f"must have at most {value} propert{'ies' if value != 1 else 'y'}"
    if kind == "multipleOf":
        return f"must be a multiple of {_show(value)}"
    if kind == "oneOf":
        if error.context:  # the errors of every alternative: none matched
            return "matches none of the allowed forms; it must match exactly one"
        return "matches more than one of the allowed forms; it must match exactly one"
    if kind == "anyOf":
        return "matches none of the allowed forms; it must match at least one"
    if kind == "not":
        return "must not match the excluded form"
    if kind in ("contains", "minContains", "maxContains"):
        return "does not contain the items required"
    if kind == "required":
        return "is required"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        return "is not allowed"
    if kind in ("additionalItems", "unevaluatedItems", "items", "prefixItems"):
        return "has items that are not allowed"
    if kind in ("dependentRequired", "dependencies", "dependentSchemas"):
        return "is missing properties that other properties require"
    if kind == "propertyNames":
        return "has a property name that is not allowed"
    if kind == "$ref" or kind == "$dynamicRef":
        return "does not fit the referenced schema"
    if kind is None:  # a `false` schema: nothing is allowed there
        return "is not allowed by the schema"
    return f"does not fit the schema ({kind})"


def request_detail(error: ValidationError) -> str:
    """The ``detail`` of a request field error: a predicate about the field."""
    return _predicate(error)


def _subject(path: Sequence[str | int]) -> str:
    if not path:
        return "The document"
    last = path[-1]
    if isinstance(last, int):
        return f"Item {last}"
    return f"'{last}'"


def document_sentence(
    error: ValidationError, path: Sequence[str | int]
) -> list[tuple[list[str | int], str]]:
    """Sentences about a document for one error, each with its path (absolute in the document)."""
    kind = error.validator
    at = list(path)
    if kind == "required":
        names = missing_properties(error) or ["(unknown)"]
        return [(at, f"The required field '{name}' is missing.") for name in names]
    if kind in ("additionalProperties", "unevaluatedProperties"):
        names = unexpected_properties(error)
        parent = at[-1] if at else None
        sentences: list[tuple[list[str | int], str]] = []
        for name in names or ["(unknown)"]:
            if parent == "responses":
                text = (
                    f"'{name}' is not a response status code; use a code such as 200, a range"
                    " such as 2XX, or default."
                )
            elif parent == "paths" and at == ["paths"]:
                text = f"The path '{name}' must start with '/'."
            else:
                text = (
                    f"The field '{name}' is not allowed here; fields that are not in the"
                    " specification must start with 'x-'."
                )
            sentences.append(([*at, name] if names else at, text))  # at the key itself
        return sentences
    if kind == "type":
        return [
            (
                at,
                f"{_subject(at)} must be {_types(error.validator_value)},"
                f" not {describe_value(error.instance)}.",
            )
        ]
    if kind in ("enum", "const"):
        return [(at, f"{_subject(at)} {_predicate(error)}, not {_show(error.instance, 40)}.")]
    if kind == "oneOf" and not error.context:
        return [(at, f"{_subject(at)} matches more than one of the allowed forms.")]
    if kind in _COMBINATORS:
        fields = alternative_fields(error)
        if fields:
            return [(at, f"One of the fields {_or_names(fields)} is required.")]
        return [(at, f"{_subject(at)} does not match any of the allowed forms.")]
    return [(at, f"{_subject(at)} {_predicate(error)}.")]


def _or_names(names: Iterable[str]) -> str:
    items = [f"'{n}'" for n in names]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
