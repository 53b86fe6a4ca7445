"""Validating requests against an operation of an onboarded document.

:func:`compile_validator` does the work once per operation: it finds every schema, builds its
jsonschema validator (OAS 3.0 or 3.1 dialect) over a ``referencing`` registry that holds only the
document — so ``#/components/...`` references resolve and nothing is ever fetched — and works out
how each parameter's text converts to its type. :meth:`RequestValidator.validate` then costs a few
dictionary look-ups per parameter and one schema validation per value.

The validator classes are jsonschema's with the keywords of :mod:`keywords`: patterns run by RE2,
hashed ``enum``/``uniqueItems``, exact ``multipleOf``, and a work budget per request
(:data:`REQUEST_BUDGET` checks, or :data:`BUDGET_PER_BYTE` per byte of the request if that is
more). A request that runs out of budget, or reaches a pattern RE2 cannot run (only in a document
stored before patterns were checked), gets one error where it stopped instead of a verdict.

Errors point into the request seen as one document (``/path/id``, ``/query/limit``,
``/header/x-trace``, ``/body/items/0/name``) and say what is wrong in a short predicate
(``must be an integer``). Their ``kind`` tells the caller what to answer:
``unsupported-media-type`` → 415, ``malformed`` (a body that does not parse) → 400, ``invalid`` →
422 (see :func:`error_status`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry
from referencing._core import Resolver
from referencing.jsonschema import DRAFT4, DRAFT202012

from app.services.openapi.analysis import OperationSpec, ParameterSpec
from app.services.openapi.coercion import NOT_CONVERTED, SchemaShape, coerce_scalar, shape_of
from app.services.openapi.directions import directional_view
from app.services.openapi.keywords import (
    BudgetExceeded,
    MoveOffLoop,
    PatternNotRun,
    TooCostly,
    bounded_format_checker,
    bounded_validator_class,
    cheap_repr_instance,
    object_from_pairs,
    validation_budget,
)
from app.services.openapi.mediatypes import body_kind, match_media_type
from app.services.openapi.messages import (
    closest_errors,
    missing_properties,
    request_detail,
    unexpected_properties,
)
from app.services.openapi.parsing import OpenAPIVersion
from app.services.openapi.problems import escape_token
from app.services.openapi.spec_validation import DOCUMENT_URI

__all__ = [
    "BUDGET_PER_BYTE",
    "MAX_REQUEST_ERRORS",
    "REQUEST_BUDGET",
    "ErrorKind",
    "FieldError",
    "RequestValidator",
    "compile_validator",
    "compile_validators",
    "document_resolver",
    "error_status",
    "format_checker",
    "validator_class",
]

MAX_REQUEST_ERRORS = 50
MAX_FORM_FIELDS = 1000
# Schema checks one request's validation may take (see keywords.py for what one check is; one
# costs 2-30 µs). Ordinary requests need at most about 1.3 per byte of body and query (an array
# of small numbers, each checked by four keywords; an array of simple objects needs 0.2), so the
# bound keeps what a document can make one request cost proportional to the request, with a
# floor for small ones (a few thousand objects' worth; 0.25-0.7 s of CPU when hit).
REQUEST_BUDGET = 50_000
BUDGET_PER_BYTE = 2
NOT_VALIDATED = "could not be validated against the schema"

log = logging.getLogger("xyb.openapi")

ErrorKind = Literal["invalid", "malformed", "unsupported-media-type"]

# OpenAPI: header parameters with these names are ignored (HTTP itself governs them).
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_DELIMITERS = {"form": ",", "simple": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with a request: where (a JSON pointer into the request) and what."""

    pointer: str
    detail: str
    kind: ErrorKind = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


def error_status(errors: Iterable[FieldError]) -> int | None:
    """The status to answer with: 415 for a media type not declared, 400 for a body that does not
    parse, 422 for anything else, None when there are no errors."""
    kinds = {e.kind for e in errors}
    if not kinds:
        return None
    if "unsupported-media-type" in kinds:
        return 415
    if "malformed" in kinds:
        return 400
    return 422


def _format_checker(version: OpenAPIVersion) -> FormatChecker:
    """Every format jsonschema checks (date, date-time, email, uuid, ipv4, ...) and OpenAPI's,
    with ``regex`` checked by RE2."""
    checker = FormatChecker()
    extra = oas30_format_checker if version == "3.0" else oas31_format_checker
    checker.checkers.update(extra.checkers)
    return bounded_format_checker(checker)


_FORMAT_CHECKERS: dict[OpenAPIVersion, FormatChecker] = {}


def format_checker(version: OpenAPIVersion) -> FormatChecker:
    """The format checker requests (and contract values) are validated with."""
    checker = _FORMAT_CHECKERS.get(version)
    if checker is None:
        checker = _FORMAT_CHECKERS[version] = _format_checker(version)
    return checker


# openapi-schema-validator's OAS 3.0 validator replaces oneOf/anyOf/allOf by a lookup of the
# `discriminator` property: an unmapped value is taken as the name of a component schema (so a
# value naming any component validates against it, whether or not it is one of the alternatives),
# an unhashable value raises TypeError, and a missing one is reported as a oneOf error without
# alternatives ("matches more than one"). In OpenAPI the discriminator is only a hint; requests
# are validated with plain JSON Schema oneOf/anyOf/allOf (as its OAS 3.1 validator already does).
_OAS30_PLAIN: Any = extend(  # type: ignore[no-untyped-call]  # jsonschema leaves it untyped
    OAS30Validator,
    {keyword: Draft4Validator.VALIDATORS[keyword] for keyword in ("allOf", "anyOf", "oneOf")},
)
_CLASSES: dict[OpenAPIVersion, Any] = {
    "3.0": bounded_validator_class(_OAS30_PLAIN, nullable=True),
    "3.1": bounded_validator_class(OAS31Validator),
}


def validator_class(version: OpenAPIVersion) -> Any:
    """The jsonschema validator class for schemas of this OpenAPI version: discriminators are
    hints, not validation (see above), and the keywords of :mod:`keywords` bound the work."""
    return _CLASSES[version]


def document_resolver(document: Mapping[str, Any], version: OpenAPIVersion) -> Resolver[Any]:
    """A resolver over a registry holding only the document (anything else is unresolvable)."""
    specification = DRAFT4 if version == "3.0" else DRAFT202012
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, specification.create_resource(document)
    )
    return registry.resolver(base_uri=DOCUMENT_URI)


def _pointer(*parts: str | int) -> str:
    return "".join("/" + escape_token(p) for p in parts)


@dataclass(frozen=True, slots=True)
class _Schema:
    validator: Validator | None
    shape: SchemaShape


def _compile_schema(
    schema_pointer: str | None, resolver: Resolver[Any], version: OpenAPIVersion
) -> _Schema:
    if schema_pointer is None:
        return _Schema(None, SchemaShape())
    resolved = resolver.lookup("#" + quote(schema_pointer, safe="/~"))
    cls = validator_class(version)
    validator = cls(
        resolved.contents, _resolver=resolved.resolver, format_checker=format_checker(version)
    )
    return _Schema(validator, shape_of(resolved.contents, resolved.resolver))


@dataclass(frozen=True, slots=True)
class _Parameter:
    spec: ParameterSpec
    pointer: str
    schema: _Schema
    json_content: bool  # described by `content` (e.g. application/json) instead of `schema`


@dataclass(frozen=True, slots=True)
class _Body:
    media_type: str
    schema: _Schema
    has_schema: bool


def _errors_from(validator: Validator, instance: Any, base: str, limit: int) -> list[FieldError]:
    """The field errors of one value; a failure of the validator itself is one of them.

    Runs inside the request's budget (see :meth:`RequestValidator.validate`): running out of it,
    or reaching a pattern RE2 cannot run, ends the validation with one error where it stopped.
    """
    found: list[FieldError] = []
    instance = cheap_repr_instance(instance)
    try:
        errors = list(islice(validator.iter_errors(instance), limit))
        for error in errors:
            for field_error in _field_errors(error, base):
                if field_error not in found:  # e.g. the same type error from two allOf members
                    found.append(field_error)
    except RecursionError:
        return [FieldError(base, "is nested too deeply to validate")]
    except MoveOffLoop:
        raise  # the proxy runs the whole validation again in a worker thread
    except TooCostly as exc:
        return [
            FieldError(
                _locate(instance, exc.instance, base),
                f"was not checked: it {exc.reason}; send a smaller value",
            )
        ]
    except BudgetExceeded as exc:
        return [
            FieldError(
                _locate(instance, exc.instance, base),
                f"was not checked: validating this request took more than {exc.limit:,} schema"
                " checks, the gateway's limit; send a smaller or less deeply nested value",
            )
        ]
    except PatternNotRun as exc:
        _warn_pattern(exc)
        shown = exc.pattern if len(exc.pattern) <= 60 else exc.pattern[:59] + "…"
        return [
            FieldError(
                _locate(instance, exc.instance, base),
                f"cannot be checked: the service's document gives it the pattern {shown!r},"
                f" which the gateway does not run ({exc.reason}); the service must onboard a"
                " corrected document",
            )
        ]
    except Exception as exc:  # a bug in a validator must be a rejected request, not a 500
        # The class only: an exception's text can hold the whole document or the value.
        log.error("validating %s failed: %s", base, type(exc).__name__)
        return [FieldError(base, NOT_VALIDATED)]
    return found


_WARNED: set[str] = set()


def _warn_pattern(exc: PatternNotRun) -> None:
    """Log once per pattern that a stored document holds one RE2 cannot run."""
    if exc.pattern in _WARNED or len(_WARNED) >= 1000:
        return
    _WARNED.add(exc.pattern)
    log.warning(
        "a stored document has a pattern the gateway does not run (%s); requests it applies to"
        " are refused until the service onboards a corrected document",
        exc.reason,
    )


def _locate(root: Any, target: Any, base: str) -> str:
    """The pointer (under ``base``) of the first place in ``root`` that is ``target`` itself."""
    if target is root:
        return base
    stack: list[tuple[Any, str]] = [(root, base)]
    while stack:
        node, where = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in reversed(list(children)):
            if child is target or key is target:
                return f"{where}/{escape_token(key)}"
            if isinstance(child, (dict, list)):
                stack.append((child, f"{where}/{escape_token(key)}"))
    return base


def _field_errors(error: ValidationError, base: str) -> list[FieldError]:
    found: list[FieldError] = []
    for leaf in closest_errors(error, for_request=True):
        here = base + "".join("/" + escape_token(p) for p in leaf.absolute_path)
        if leaf.validator == "required":
            names = missing_properties(leaf)
            found.extend(FieldError(f"{here}/{escape_token(n)}", "is required") for n in names)
            if names:
                continue
        elif leaf.validator in ("additionalProperties", "unevaluatedProperties"):
            names = unexpected_properties(leaf)
            found.extend(FieldError(f"{here}/{escape_token(n)}", "is not allowed") for n in names)
            if names:
                continue
        found.append(FieldError(here, request_detail(leaf)))
    return found


def _type_phrase(shape: SchemaShape) -> str:
    order = ("integer", "number", "boolean", "null", "array", "object", "string")
    names = {
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean (true or false)",
        "null": "null",
        "array": "an array",
        "object": "an object",
        "string": "a string",
    }
    phrases = [names[t] for t in order if t in shape.types]
    if not phrases:
        return "of the declared type"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


class RequestValidator:
    """Validates requests to one operation. Build with :func:`compile_validator`."""

    __slots__ = ("_bodies", "_parameters", "declares_body", "media_types", "operation")

    def __init__(
        self,
        operation: OperationSpec,
        parameters: Sequence[_Parameter],
        bodies: Mapping[str, _Body],
    ) -> None:
        self.operation = operation
        self._parameters = tuple(parameters)
        self._bodies = dict(bodies)
        self.declares_body: bool = operation.request_body is not None
        self.media_types: tuple[str, ...] = (
            operation.request_body.media_types if operation.request_body else ()
        )

    # -- parameters ------------------------------------------------------------------------------

    def _convert(self, text: str, shape: SchemaShape, where: str, errors: list[FieldError]) -> Any:
        value = coerce_scalar(text, shape.types)
        if value is NOT_CONVERTED:
            errors.append(FieldError(where, f"must be {_type_phrase(shape)}"))
        return value

    def _array(
        self, texts: Sequence[str], shape: SchemaShape, where: str, errors: list[FieldError]
    ) -> list[Any]:
        item_shape = shape.items or SchemaShape()
        values: list[Any] = []
        for index, text in enumerate(texts):
            values.append(self._convert(text, item_shape, f"{where}/{index}", errors))
        return values

    def _object_from_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        shape: SchemaShape,
        where: str,
        errors: list[FieldError],
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, text in pairs:
            prop = shape.properties.get(key, SchemaShape())
            result[key] = self._convert(text, prop, f"{where}/{escape_token(key)}", errors)
        return result

    def _parameter_value(
        self,
        param: _Parameter,
        raw: list[str] | None,
        query: Mapping[str, list[str]],
        errors: list[FieldError],
    ) -> Any:
        """The typed value of a parameter: NOT_CONVERTED when absent or not convertible; an array
        or object may hold NOT_CONVERTED items, already reported."""
        spec, shape, where = param.spec, param.schema.shape, param.pointer
        if spec.location == "query" and shape.is_object and raw is None:
            if spec.style == "deepObject":
                prefix = f"{spec.name}["
                pairs = [
                    (k[len(prefix) : -1], v[0])
                    for k, v in query.items()
                    if k.startswith(prefix) and k.endswith("]") and v
                ]
            elif spec.explode:
                pairs = [(k, query[k][0]) for k in shape.properties if query.get(k)]
            else:
                pairs = []
            if not pairs:
                return NOT_CONVERTED
            return self._object_from_pairs(pairs, shape, where, errors)
        if raw is None:
            return NOT_CONVERTED
        if param.json_content:
            if len(raw) > 1:
                errors.append(FieldError(where, "must be given only once"))
                return NOT_CONVERTED
            try:
                return _load_json(raw[0])
            except _DuplicateKey as exc:
                errors.append(FieldError(where, exc.detail))
                return NOT_CONVERTED
            except (ValueError, RecursionError):
                errors.append(FieldError(where, "must be valid JSON"))
                return NOT_CONVERTED
        if shape.is_array:
            if spec.location == "query" and spec.explode and spec.style == "form":
                texts: list[str] = list(raw)
            else:
                if len(raw) > 1:
                    errors.append(FieldError(where, "must be given only once"))
                    return NOT_CONVERTED
                delimiter = _DELIMITERS.get(spec.style, ",")
                texts = raw[0].split(delimiter) if raw[0] != "" else []
                if spec.location == "header":
                    texts = [t.strip() for t in texts]
            return self._array(texts, shape, where, errors)
        if len(raw) > 1:
            errors.append(FieldError(where, "must be given only once"))
            return NOT_CONVERTED
        text = raw[0]
        if shape.is_object:  # header/path/query-not-exploded: k,v,k,v or k=v,k=v
            parts = text.split(",") if text else []
            if spec.explode and spec.location != "query":
                pairs = [_split_pair(p) for p in parts if "=" in p]
            else:
                pairs = list(zip(parts[0::2], parts[1::2], strict=False))
            return self._object_from_pairs(pairs, shape, where, errors)
        if text == "" and spec.allow_empty_value:
            return NOT_CONVERTED
        if spec.location == "path" and spec.style == "label":
            text = text.removeprefix(".")
        elif spec.location == "path" and spec.style == "matrix":
            text = text.removeprefix(f";{spec.name}=")
        count = len(errors)
        value = self._convert(text, shape, where, errors)
        return value if len(errors) == count else NOT_CONVERTED

    # -- bodies ----------------------------------------------------------------------------------

    def _body(self, content_type: str | None, body: bytes, errors: list[FieldError]) -> None:
        request_body = self.operation.request_body
        if not body:
            if request_body is not None and request_body.required:
                errors.append(FieldError("/body", "a request body is required"))
            return
        if request_body is None or not self.media_types:
            return  # nothing documented: passed on as it is
        declared = match_media_type(content_type, self.media_types)
        if declared is None:
            accepted = ", ".join(self.media_types)
            if content_type:
                detail = f"the media type {content_type.split(';')[0].strip()} is not accepted"
            else:
                detail = "a body was sent without a Content-Type"
            errors.append(
                FieldError(
                    "/header/content-type",
                    f"{detail}; this operation takes {accepted}",
                    "unsupported-media-type",
                )
            )
            return
        plan = self._bodies[declared]
        if not plan.has_schema or plan.schema.validator is None:
            return
        kind = body_kind(content_type)
        if kind == "json":
            try:
                instance = _load_json(body.decode("utf-8").removeprefix("\ufeff"))
            except _DuplicateKey as exc:
                errors.append(FieldError("/body", exc.detail, "malformed"))
                return
            except UnicodeDecodeError:
                errors.append(FieldError("/body", "is not valid UTF-8 text", "malformed"))
                return
            except json.JSONDecodeError as exc:
                errors.append(
                    FieldError(
                        "/body",
                        f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                        "malformed",
                    )
                )
                return
            except RecursionError:
                errors.append(FieldError("/body", "is nested too deeply to read", "malformed"))
                return
            except ValueError as exc:
                errors.append(FieldError("/body", f"is not valid JSON: {exc}", "malformed"))
                return
            errors.extend(
                _errors_from(plan.schema.validator, instance, "/body", MAX_REQUEST_ERRORS)
            )
        elif kind == "form":
            try:
                text = body.decode("utf-8")
                pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            except UnicodeDecodeError:
                errors.append(FieldError("/body", "is not valid UTF-8 text", "malformed"))
                return
            except ValueError:
                errors.append(
                    FieldError("/body", f"has more than {MAX_FORM_FIELDS} fields", "malformed")
                )
                return
            self._form(pairs, plan.schema, errors)

    def _form(
        self, pairs: Sequence[tuple[str, str]], schema: _Schema, errors: list[FieldError]
    ) -> None:
        """A form body as an object, then validated: a declared property's text is converted to
        its type (an array property takes every value given for it; any other must be given
        once); a field the schema does not declare is kept as text, and when it is repeated as
        the list of its texts in order, which ``additionalProperties`` (if any) then judges."""
        grouped: dict[str, list[str]] = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        shape = schema.shape
        instance: dict[str, Any] = {}
        count = len(errors)
        for key, texts in grouped.items():
            where = f"/body/{escape_token(key)}"
            prop = shape.properties.get(key)
            if prop is None:  # not declared: text, or a list of texts when repeated
                instance[key] = texts if len(texts) > 1 else texts[0]
            elif prop.is_array:
                instance[key] = self._array(texts, prop, where, errors)
            elif len(texts) > 1:
                errors.append(FieldError(where, "must be given only once"))
                instance[key] = NOT_CONVERTED
            else:
                instance[key] = self._convert(texts[0], prop, where, errors)
        assert schema.validator is not None
        found = _errors_from(schema.validator, instance, "/body", MAX_REQUEST_ERRORS)
        errors.extend(_not_reported(found, errors[count:]))

    # -- entry point -----------------------------------------------------------------------------

    def validate(
        self,
        *,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        content_type: str | None,
        body: bytes,
        pause_at: int | None = None,
        deadline: float | None = None,
    ) -> list[FieldError]:
        """Everything wrong with a request (at most MAX_REQUEST_ERRORS); empty when it is valid.

        With ``pause_at``, :class:`MoveOffLoop` is raised once the validation has taken that many
        checks (the proxy then validates again in a worker thread, without it); with
        ``deadline`` (a ``time.monotonic()`` value) a validation still running then stops with
        an error where it was.

        ``query`` is the decoded pairs in order (a key may repeat); ``headers`` has lower-case
        names. Undocumented query parameters and headers are allowed. Never raises: should the
        validation itself fail, the request is rejected with an error at ``""`` (the whole
        request) saying it could not be validated.
        """
        errors: list[FieldError] = []
        size = len(body) + sum(len(k) + len(v) for k, v in query)
        try:
            with validation_budget(
                max(REQUEST_BUDGET, BUDGET_PER_BYTE * size), pause_at=pause_at, deadline=deadline
            ):
                self._validate(path_params, query, headers, content_type, body, errors)
        except MoveOffLoop:
            raise
        except Exception as exc:  # a bug here must be a rejected request, not a 500
            log.error(
                "validating a request to %s failed: %s",
                self.operation.operation_id,
                type(exc).__name__,
            )
            errors.append(FieldError("", NOT_VALIDATED))
        return errors[:MAX_REQUEST_ERRORS]

    def _validate(
        self,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        content_type: str | None,
        body: bytes,
        errors: list[FieldError],
    ) -> None:
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        for param in self._parameters:
            spec = param.spec
            raw: list[str] | None
            if spec.location == "path":
                text = path_params.get(spec.name)
                raw = None if text is None else [text]
            elif spec.location == "query":
                raw = grouped.get(spec.name)
            else:
                text = headers.get(spec.name)
                raw = None if text is None else [text]
            count = len(errors)
            typed = self._parameter_value(param, raw, grouped, errors)
            if typed is NOT_CONVERTED:
                if len(errors) == count and spec.required and raw is None:
                    errors.append(FieldError(param.pointer, "is required"))
                continue
            if param.schema.validator is not None:
                found = _errors_from(
                    param.schema.validator, typed, param.pointer, MAX_REQUEST_ERRORS
                )
                errors.extend(_not_reported(found, errors[count:]))
            if len(errors) >= MAX_REQUEST_ERRORS:
                return
        self._body(content_type, body, errors)


def _not_reported(found: list[FieldError], reported: list[FieldError]) -> list[FieldError]:
    """Validation errors about values whose conversion already failed (and was reported) dropped."""
    if not reported:
        return found
    done = {e.pointer for e in reported}
    return [
        e
        for e in found
        if e.pointer not in done and not any(e.pointer.startswith(d + "/") for d in done)
    ]


def _split_pair(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key, value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class _DuplicateKey(Exception):
    """A JSON object gives the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        shown = json.dumps(key, ensure_ascii=False)
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        self.detail = f"has the key {shown} more than once; each key may be given only once"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = object_from_pairs(pairs)  # with a short repr: see keywords.cheap_repr_instance
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _load_json(text: str) -> Any:
    """JSON text as values, refusing an object with a key given twice (_DuplicateKey).

    The service receives the text as it was sent, and JSON parsers disagree about which of two
    values of a key wins: validating the one Python keeps would let the other one through.
    """
    return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def _compile(
    operation: OperationSpec, resolver: Resolver[Any], version: OpenAPIVersion
) -> RequestValidator:
    parameters: list[_Parameter] = []
    for spec in operation.parameters:
        if spec.location == "cookie":
            continue  # cookies are not validated
        if spec.location == "header" and spec.name in _IGNORED_HEADERS:
            continue
        parameters.append(
            _Parameter(
                spec=spec,
                pointer=_pointer(spec.location, spec.name),
                schema=_compile_schema(spec.schema_pointer, resolver, version),
                json_content=spec.media_type is not None and body_kind(spec.media_type) == "json",
            )
        )
    bodies: dict[str, _Body] = {}
    if operation.request_body is not None:
        for media in operation.request_body.content:
            bodies[media.media_type] = _Body(
                media_type=media.media_type,
                schema=_compile_schema(media.schema_pointer, resolver, version),
                has_schema=media.schema_pointer is not None,
            )
    return RequestValidator(operation, parameters, bodies)


def compile_validator(
    document: Mapping[str, Any], operation: OperationSpec, version: OpenAPIVersion
) -> RequestValidator:
    """A request validator for one operation of an analysed document without problems."""
    return compile_validators(document, [operation], version)[operation.operation_id]


def compile_validators(
    document: Mapping[str, Any], operations: Iterable[OperationSpec], version: OpenAPIVersion
) -> dict[str, RequestValidator]:
    """Validators for many operations of one document (sharing its registry), by operationId.

    Requests are held to the document as a request sees it: a ``readOnly`` property is not
    required in one (see :mod:`directions`)."""
    resolver = document_resolver(directional_view(document, version, "request"), version)
    return {op.operation_id: _compile(op, resolver, version) for op in operations}
