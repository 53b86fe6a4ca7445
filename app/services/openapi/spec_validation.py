"""What openapi-spec-validator finds in a document, located by JSON pointers, and never fetching.

openapi-spec-validator checks a document in two ways: against the OpenAPI meta-schema, and with
"keyword validators" that check schemas (against the OpenAPI schema dialect), defaults and required
lists. Its ``iter_errors`` reports keyword findings without saying where they are, so the keyword
validators are driven here one location at a time (each component schema, parameter, response,
request body), which yields a pointer for everything.

Fetching: its resolver follows ``$ref`` through "handlers" per URI scheme and falls back to
``urllib``/``requests`` for a scheme without a handler. The handlers given here claim every scheme
and refuse, and the document given to the keyword validators has every non-local or unresolvable
``$ref`` already replaced (see :mod:`refs`), so nothing is ever read from a URL or a file. Its
meta-schema check is run with jsonschema directly (not the optional Rust backend, whose errors have
no alternatives to explain a failed ``oneOf``), with a registry that cannot retrieve anything.
``SpecValidator.iter_errors`` itself is not used: it is memoised per validator instance in a global
``lru_cache`` and would keep every analysed document alive.

Cost: a ``default`` is checked against its schema with the gateway's own bounded validator
classes (patterns by RE2, a work budget: see :mod:`keywords`), and the schemas' own ``pattern``
values are not compiled by the meta-schema check's ``regex`` format (Python's ``re``): whether RE2
can run them is the pattern check's finding (:mod:`patterns`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from jsonschema_path import SchemaPath
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from openapi_spec_validator.schemas import schema_v30, schema_v31
from openapi_spec_validator.validation import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import (
    ExtraParametersError,
    OpenAPIValidationError,
)
from openapi_spec_validator.validation.keywords import (
    KeywordValidator,
    OpenAPIV30SchemaValidator,
    OpenAPIV31SchemaValidator,
    ValueValidator,
)
from openapi_spec_validator.validation.registries import KeywordValidatorRegistry
from referencing import Registry

from app.services.openapi.keywords import (
    DEFAULT_BUDGET,
    PatternNotRun,
    bounded_format_checker,
    bounded_validator_class,
    cheap_repr_instance,
    validation_budget,
)
from app.services.openapi.messages import closest_errors, document_sentence, request_detail
from app.services.openapi.parsing import OpenAPIVersion
from app.services.openapi.problems import DocProblem, pointer
from app.services.openapi.refs import Parts

__all__ = ["DOCUMENT_URI", "NEVER_FETCH", "FetchRefused", "spec_problems"]

# The base URI the document is known by when its references are resolved. Not fetchable, and
# resolved only from the in-memory registry.
DOCUMENT_URI = "urn:xyb:openapi-document"

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class FetchRefused(LookupError):
    """Something tried to retrieve a referenced document; the gateway never does."""


def _refuse_fetch(uri: str) -> Any:
    raise FetchRefused(f"refusing to retrieve {uri!r}: references are never fetched")


class _NeverFetch(dict[str, Any]):
    """Resolver handlers that claim every URI scheme and refuse to retrieve anything.

    jsonschema-path falls back to urllib/requests for a scheme with no handler; claiming all of
    them closes that path.
    """

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return _refuse_fetch

    def get(self, key: str, default: Any = None) -> Any:
        return _refuse_fetch


NEVER_FETCH: dict[str, Any] = _NeverFetch()


def _static_schema_refs(node: Any) -> Any:
    """The 3.1 meta-schema with ``{"$dynamicRef": "#meta"}`` as a plain ``$ref`` to its target.

    Nothing extends the dialect here, so both mean "an object or a boolean"; but each dynamic
    reference makes jsonschema re-crawl the whole meta-schema for the anchor (seconds on a large
    document).
    """
    if isinstance(node, dict):
        if node.get("$dynamicRef") == "#meta" and len(node) == 1:
            return {"$ref": "#/$defs/schema"}
        return {key: _static_schema_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_static_schema_refs(item) for item in node]
    return node


@lru_cache(maxsize=2)
def _meta_validator(version: OpenAPIVersion) -> Validator:
    meta = dict(schema_v30) if version == "3.0" else _static_schema_refs(dict(schema_v31))
    cls = validator_for(meta)
    # An explicit registry: jsonschema's default one would fetch unknown remote references.
    return cls(meta, registry=Registry())


class _MetaCache:
    """Remembers the meta-schema verdict per distinct schema within one document.

    Checking a schema against the 3.1 dialect costs ~1.5 ms; documents repeat small inline
    schemas (``{"type": "string"}``) many times.
    """

    def _cached(self, schema: SchemaPath, schema_value: Any, check: Any, dialect: str) -> Any:
        cache: dict[str, Any] = self.__dict__.setdefault("_xyb_meta_cache", {})
        try:
            key = dialect + json.dumps(schema_value, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return check(schema, schema_value)
        if key not in cache:
            cache[key] = check(schema, schema_value)
        return cache[key]


def _meta_formats(base: FormatChecker) -> FormatChecker:
    """``base`` without ``regex``: the meta-schema check would compile every ``pattern`` of the
    document with Python's ``re``; patterns are the pattern check's (RE2's) business."""
    checker = FormatChecker(formats=())
    checker.checkers.update({k: v for k, v in base.checkers.items() if k != "regex"})
    return checker


class _V30Schema(_MetaCache, OpenAPIV30SchemaValidator):
    def _get_schema_checker(self, schema: SchemaPath, schema_value: Any) -> Callable[[Any], None]:
        return partial(OAS30Validator.check_schema, format_checker=_META_FORMATS["3.0"])

    def _validate_schema_meta(self, schema: SchemaPath, schema_value: Any) -> Any:
        return self._cached(schema, schema_value, super()._validate_schema_meta, "")


class _V31Schema(_MetaCache, OpenAPIV31SchemaValidator):
    schema_validator_format_checker = _meta_formats(oas31_format_checker)

    def _validate_schema_meta(self, schema: SchemaPath, schema_value: Any) -> Any:
        try:
            dialect = self._get_schema_dialect_id(schema, schema_value)
        except ValueError:
            return super()._validate_schema_meta(schema, schema_value)
        return self._cached(schema, schema_value, super()._validate_schema_meta, dialect)


_META_FORMATS = {"3.0": _meta_formats(oas30_format_checker)}


class _BoundedDefault(ValueValidator):
    """A ``default`` checked against its schema within a work budget, patterns run by RE2."""

    def __call__(self, schema: SchemaPath, value: Any) -> Iterator[ValidationError]:
        with schema.resolve() as resolved:
            validator = self.value_validator_cls(
                resolved.contents,
                _resolver=resolved.resolver,
                format_checker=self.value_validator_format_checker,
            )
            # A copy: the checked value gets short reprs (keywords.cheap_repr_instance).
            instance = cheap_repr_instance(copy.deepcopy(value))
            try:
                with validation_budget(DEFAULT_BUDGET):
                    errors = list(validator.iter_errors(instance))
            except PatternNotRun:
                return  # the pattern itself is reported (patterns.py)
        yield from errors


class _V30Default(_BoundedDefault):
    value_validator_cls = bounded_validator_class(OAS30Validator, nullable=True)
    value_validator_format_checker = bounded_format_checker(oas30_format_checker)


class _V31Default(_BoundedDefault):
    value_validator_cls = bounded_validator_class(OAS31Validator)
    value_validator_format_checker = bounded_format_checker(oas31_format_checker)


_KEYWORDS: dict[OpenAPIVersion, dict[str, type[KeywordValidator]]] = {
    "3.0": {
        **OpenAPIV30SpecValidator.keyword_validators,
        "schema": _V30Schema,
        "default": _V30Default,
    },
    "3.1": {
        **OpenAPIV31SpecValidator.keyword_validators,
        "schema": _V31Schema,
        "default": _V31Default,
    },
}


def _sentences(error: ValidationError, base: Parts = ()) -> Iterator[DocProblem]:
    for leaf in closest_errors(error):
        if not isinstance(leaf.validator, str):
            text = str(leaf.message).strip().rstrip(".")
            yield DocProblem(pointer(base), text[:1].upper() + text[1:] + ".")
            continue
        for path, sentence in document_sentence(leaf, [*base, *leaf.absolute_path]):
            yield DocProblem(pointer(path), sentence)


def _schema_locations(document: dict[str, Any]) -> Iterator[Parts]:
    """Every schema written in place (not reached through a $ref), components first.

    The keyword validators skip a schema they have seen, so a component schema's findings land
    at the component even when an operation refers to it.
    """
    components = document.get("components")
    if isinstance(components, dict):
        schemas = components.get("schemas")
        if isinstance(schemas, dict):
            for name, schema in schemas.items():
                if isinstance(schema, (dict, bool)) and not _is_ref(schema):
                    yield ("components", "schemas", name)
        for section, kind in (
            ("parameters", "parameter"),
            ("headers", "parameter"),
            ("requestBodies", "body"),
            ("responses", "response"),
        ):
            entries = components.get(section)
            if isinstance(entries, dict):
                for name, entry in entries.items():
                    yield from _object_schemas(kind, entry, ("components", section, name))
        path_items = components.get("pathItems")
        if isinstance(path_items, dict):
            for name, item in path_items.items():
                yield from _path_item_schemas(item, ("components", "pathItems", name))
    paths = document.get("paths")
    if isinstance(paths, dict):
        for path, item in paths.items():
            yield from _path_item_schemas(item, ("paths", path))


def _is_ref(node: Any) -> bool:
    return isinstance(node, dict) and "$ref" in node


def _object_schemas(kind: str, node: Any, parts: Parts) -> Iterator[Parts]:
    """Schemas in a parameter/header, request body or response object."""
    if not isinstance(node, dict) or _is_ref(node):
        return
    if kind == "parameter":
        schema = node.get("schema")
        if isinstance(schema, (dict, bool)) and not _is_ref(schema):
            yield (*parts, "schema")
    content = node.get("content")
    if isinstance(content, dict):
        for media_type, media in content.items():
            if isinstance(media, dict):
                schema = media.get("schema")
                if isinstance(schema, (dict, bool)) and not _is_ref(schema):
                    yield (*parts, "content", media_type, "schema")
    if kind == "response":
        headers = node.get("headers")
        if isinstance(headers, dict):
            for name, header in headers.items():
                yield from _object_schemas("parameter", header, (*parts, "headers", name))


def _path_item_schemas(item: Any, parts: Parts) -> Iterator[Parts]:
    if not isinstance(item, dict) or _is_ref(item):
        return
    yield from _parameter_schemas(item.get("parameters"), (*parts, "parameters"))
    for method in _METHODS:
        operation = item.get(method)
        if not isinstance(operation, dict):
            continue
        op_parts = (*parts, method)
        yield from _parameter_schemas(operation.get("parameters"), (*op_parts, "parameters"))
        yield from _object_schemas("body", operation.get("requestBody"), (*op_parts, "requestBody"))
        responses = operation.get("responses")
        if isinstance(responses, dict):
            for code, response in responses.items():
                yield from _object_schemas("response", response, (*op_parts, "responses", code))


def _parameter_schemas(parameters: Any, parts: Parts) -> Iterator[Parts]:
    if isinstance(parameters, list):
        for index, parameter in enumerate(parameters):
            yield from _object_schemas("parameter", parameter, (*parts, index))


_LISTED = re.compile(r"\[(.*)\]")


def _undeclared_required(error: ExtraParametersError, parts: Parts, node: Any) -> DocProblem:
    """A warning, not a problem: JSON Schema lets ``required`` name a property that no
    ``properties`` declares (any value then fits it), and real documents do so."""
    match = _LISTED.search(str(error.message))
    names = sorted(n.strip() for n in match.group(1).replace("'", "").split(",")) if match else []
    listed = ", ".join(names) or "some properties"
    one = len(names) == 1
    return DocProblem(
        pointer((*parts, "required")) if isinstance(node, dict) else pointer(parts),
        f"The schema requires {listed}, which neither it nor its allOf members declare in"
        f" properties. JSON Schema allows this: {'it is' if one else 'they are'} required with"
        f" any value. Declare {'it' if one else 'them'} in properties to have"
        f" {'its value' if one else 'their values'} checked.",
    )


def _keyword_problems(error: ValidationError, parts: Parts, node: Any) -> Iterator[DocProblem]:
    if isinstance(error, OpenAPIValidationError):
        yield from _sentences(error, parts)
    else:  # a default value that does not fit its schema
        where = (*parts, "default") if isinstance(node, dict) and "default" in node else parts
        inner = "".join(f"/{p}" for p in error.absolute_path)
        subject = f"The default value{' at ' + inner if inner else ''}"
        yield DocProblem(pointer(where), f"{subject} {request_detail(error)}.")


def _node_at(document: Any, parts: Parts) -> Any:
    node = document
    for token in parts:
        try:
            node = node[token]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def spec_problems(
    document: dict[str, Any], sanitized: dict[str, Any], version: OpenAPIVersion
) -> tuple[list[DocProblem], list[DocProblem]]:
    """Problems (and warnings) openapi-spec-validator finds.

    ``document`` is checked against the meta-schema as submitted; ``sanitized`` — the same document
    with every reference that must not be followed replaced — is given to the keyword validators.
    """
    problems: list[DocProblem] = []
    warnings: list[DocProblem] = []
    for error in _meta_validator(version).iter_errors(document):
        problems.extend(_sentences(error))
    structural = [p.pointer for p in problems]

    root = SchemaPath.from_dict(
        sanitized, base_uri=DOCUMENT_URI, handlers=NEVER_FETCH, resolved_cache_maxsize=256
    )
    registry = KeywordValidatorRegistry(_KEYWORDS[version])
    schema_validator: Any = registry["schema"]
    for parts in _schema_locations(sanitized):
        where = pointer(parts)
        if any(p == where or p.startswith(where + "/") for p in structural):
            continue  # already explained by the meta-schema check
        if any(isinstance(p, str) and "#" in p for p in parts):
            continue  # jsonschema-path splits path segments on '#'
        target = root
        for token in parts:
            target = target / token
        node = _node_at(sanitized, parts)
        try:
            for error in schema_validator(target):
                if isinstance(error, ExtraParametersError):
                    warnings.append(_undeclared_required(error, parts, node))
                else:
                    problems.extend(_keyword_problems(error, parts, node))
        except RecursionError:
            warnings.append(
                DocProblem(
                    where,
                    "This part nests schemas in a way the specification checker cannot follow;"
                    " it was not fully checked.",
                )
            )
        except Exception as exc:  # a checker failure must not hide the other findings
            warnings.append(
                DocProblem(where, f"This part could not be fully checked ({type(exc).__name__}).")
            )
    return problems, warnings
