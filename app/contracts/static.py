"""Static checks: does a contract fit its provider's OpenAPI document, without calling anything?

For every interaction: the operation exists; the method and the concrete path fit it; the request's
parameters and body are valid for it (the gateway's own request validators); the expected status is
documented; and the expected JSON body — its example, every matcher replaced by its example — fits
the documented response schema *as a subset*: the check runs on a copy of the document without any
``required`` lists, so the fields a contract leaves out are not demanded. Each problem carries a
JSON pointer into the contract file and one plain sentence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from jsonschema.exceptions import ValidationError

from app.contracts.matchers import example_of, is_matcher, json_path
from app.contracts.model import Contract, Interaction
from app.core.safe_regex import PatternRefused, fullmatch_groups
from app.core.safe_regex import escape as regex_escape
from app.services.openapi import (
    Analysis,
    DocumentRefused,
    OperationSpec,
    analyse,
    body_kind,
    compile_validator,
    media_type_of,
    parse_document,
)
from app.services.openapi.keywords import (
    DEFAULT_BUDGET,
    BudgetExceeded,
    PatternNotRun,
    cheap_repr_instance,
    validation_budget,
)
from app.services.openapi.messages import closest_errors, request_detail, unexpected_properties
from app.services.openapi.parsing import OpenAPIVersion
from app.services.openapi.problems import escape_token, fragment_parts, pointer_parts
from app.services.openapi.validation import document_resolver, format_checker, validator_class

__all__ = [
    "StaticProblem",
    "check_contract",
    "documented_status",
    "follow_ref",
    "is_xml_media_type",
    "json_media_type",
    "match_path",
    "operation_label",
    "resolve_operation",
    "response_media",
]

Parts = tuple[str | int, ...]
MAX_LISTED_OPERATIONS = 5
MAX_BODY_ERRORS = 50

_OPERATION_REF = re.compile(r"^([A-Za-z]+)\s+(/\S*)$")
_TEMPLATE_PART = re.compile(r"\{([^{}/]+)\}")


@dataclass(frozen=True, slots=True)
class StaticProblem:
    """One way a contract does not fit the document: the interaction's id (None for the contract
    as a whole), a JSON pointer into the contract file and one plain sentence."""

    interaction: str | None
    pointer: str
    message: str


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + escape_token(p) for p in parts)


# --- operations ---------------------------------------------------------------------------------


def resolve_operation(analysis: Analysis, ref: str) -> OperationSpec | None:
    """The operation a contract names: an operationId, or ``"METHOD /path/{template}"``."""
    match = _OPERATION_REF.match(ref.strip())
    if match is not None:
        method, path = match.group(1).upper(), match.group(2)
        for operation in analysis.operations:
            if operation.method == method and operation.path == path:
                return operation
        return None
    for operation in analysis.operations:
        if operation.operation_id == ref:
            return operation
    return None


def operation_label(operation: OperationSpec) -> str:
    """``GET /gjj/accounts/{id_number} (getFundAccount_430100)``."""
    return f"{operation.method} {operation.path} ({operation.operation_id})"


def match_path(template: str, path: str) -> dict[str, str] | None:
    """The path parameters (percent-decoded) when a concrete path fits a template, else None."""
    template_segments = template.split("/")
    segments = path.split("/")
    if len(template_segments) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(template_segments, segments, strict=True):
        names = _TEMPLATE_PART.findall(expected)
        if not names:
            if unquote(actual) != expected:
                return None
            continue
        pieces = _TEMPLATE_PART.split(expected)  # literal, name, literal, name, ..., literal
        pattern = "".join(
            regex_escape(piece) if index % 2 == 0 else "([^/]+?)"
            for index, piece in enumerate(pieces)
        )
        try:
            # RE2: lazy groups between literals backtrack polynomially in Python's re.
            found = fullmatch_groups(pattern, actual)
        except PatternRefused:  # a template too long to compile fits nothing
            return None
        if found is None:
            return None
        for name, value in zip(names, found, strict=True):
            params[name] = unquote(value)
    return params


# --- the document -------------------------------------------------------------------------------


def follow_ref(document: Any, node: Any, parts: Parts) -> tuple[Any, Parts] | None:
    """The object a chain of local ``$ref`` leads to, with its location; None when broken."""
    for _ in range(64):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node, parts
        ref = node["$ref"]
        if not ref.startswith("#/") and ref != "#":
            return None
        try:
            tokens = fragment_parts(ref[1:])
        except ValueError:
            return None
        target: Any = document
        typed: list[str | int] = []
        for token in tokens:
            if isinstance(target, dict) and token in target:
                target = target[token]
                typed.append(token)
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
                typed.append(int(token))
            else:
                return None
        node, parts = target, tuple(typed)
    return None


def _node(document: Any, ptr: str) -> tuple[Any, Parts] | None:
    node: Any = document
    parts: list[str | int] = []
    for token in pointer_parts(ptr):
        if isinstance(node, dict) and token in node:
            node = node[token]
            parts.append(token)
        else:
            return None
    return node, tuple(parts)


def documented_status(responses: Sequence[str], status: int) -> str | None:
    """The response key that documents a status: the exact code, its range (``2XX``) or
    ``default``; None when none does."""
    exact = str(status)
    if exact in responses:
        return exact
    for code in responses:
        if code.upper() == f"{status // 100}XX":
            return code
    if "default" in responses:
        return "default"
    return None


def response_media(
    document: Mapping[str, Any], operation: OperationSpec, code: str
) -> tuple[Parts, dict[str, Any]] | None:
    """The response object documented under ``code`` (references followed): its location and its
    ``content`` map (empty when it documents no body). None when it cannot be read."""
    found = _node(document, operation.pointer)
    if found is None or not isinstance(found[0], dict):
        return None
    responses = found[0].get("responses")
    if not isinstance(responses, dict) or code not in responses:
        return None
    followed = follow_ref(document, responses[code], (*found[1], "responses", code))
    if followed is None or not isinstance(followed[0], dict):
        return None
    content = followed[0].get("content")
    return followed[1], dict(content) if isinstance(content, dict) else {}


def json_media_type(content: Mapping[str, Any]) -> str | None:
    for media_type in content:
        if body_kind(media_type) == "json":
            return media_type
    return None


def is_xml_media_type(media_type: str) -> bool:
    media = media_type_of(media_type)
    return media.endswith("/xml") or media.endswith("+xml")


def _without_required_lists(node: Any) -> Any:
    """A copy with every list-valued ``required`` removed (schemas' required properties)."""
    if isinstance(node, dict):
        return {
            key: _without_required_lists(value)
            for key, value in node.items()
            if not (key == "required" and isinstance(value, list))
        }
    if isinstance(node, list):
        return [_without_required_lists(value) for value in node]
    return node


# --- the checks ---------------------------------------------------------------------------------


class _Checker:
    def __init__(self, contract: Contract, document: dict[str, Any], analysis: Analysis) -> None:
        self.contract = contract
        self.document = document
        self.analysis = analysis
        assert analysis.version is not None
        self.version: OpenAPIVersion = analysis.version
        self.problems: list[StaticProblem] = []
        self._resolver: Any = None

    def add(self, interaction: Interaction, where: Sequence[str | int], message: str) -> None:
        self.problems.append(
            StaticProblem(interaction.id, interaction.pointer + _pointer(where), message)
        )

    @property
    def lenient_resolver(self) -> Any:
        """Resolves into a copy of the document without required lists (built once)."""
        if self._resolver is None:
            self._resolver = document_resolver(_without_required_lists(self.document), self.version)
        return self._resolver

    def check(self, interaction: Interaction) -> None:
        operation = resolve_operation(self.analysis, interaction.operation)
        if operation is None:
            self.add(interaction, ("operation",), self._unknown_operation(interaction.operation))
            return
        label = operation_label(operation)
        request = interaction.request
        if request.method is not None and request.method.upper() != operation.method:
            self.add(
                interaction,
                ("request", "method"),
                f"The method is {request.method}, but {interaction.operation} is {label}.",
            )
        params = match_path(operation.path, request.path)
        if params is None:
            self.add(
                interaction,
                ("request", "path"),
                f"The path {request.path} does not fit the path template {operation.path} of"
                f" {label}.",
            )
        else:
            self.check_request(interaction, operation, params)
        self.check_response(interaction, operation, label)

    def _unknown_operation(self, ref: str) -> str:
        operations = self.analysis.operations
        listed = ", ".join(
            f"{op.operation_id} ({op.method} {op.path})"
            for op in operations[:MAX_LISTED_OPERATIONS]
        )
        more = len(operations) - MAX_LISTED_OPERATIONS
        if more > 0:
            listed += f" and {more} more"
        if not operations:
            return (
                f"The operation '{ref}' is not in the provider's OpenAPI document, which has none."
            )
        return (
            f"The operation '{ref}' is not in the provider's OpenAPI document; it has {listed}."
            ' Name an operationId or write "METHOD /path/{template}".'
        )

    # -- requests --------------------------------------------------------------------------------

    def check_request(
        self, interaction: Interaction, operation: OperationSpec, params: dict[str, str]
    ) -> None:
        request = interaction.request
        validator = compile_validator(self.document, operation, self.version)
        headers = {name.lower(): value for name, value in request.headers.items()}
        content_type = request.effective_content_type() or headers.get("content-type")
        errors = validator.validate(
            path_params=params,
            query=list(request.query),
            headers=headers,
            content_type=content_type,
            body=request.encoded_body(),
        )
        for error in errors:
            where, subject = self._request_location(interaction, error.pointer, params)
            detail = error.detail
            if detail.startswith(("a ", "the ")):
                message = detail[0].upper() + detail[1:] + "."
            else:
                message = f"{subject} {detail}."
            self.add(interaction, where, message)

    def _request_location(
        self, interaction: Interaction, field_pointer: str, params: Mapping[str, str]
    ) -> tuple[Parts, str]:
        request = interaction.request
        tokens = pointer_parts(field_pointer)
        location, rest = (tokens[0], tokens[1:]) if tokens else ("", [])
        if location == "path" and rest:
            value = params.get(rest[0], "")
            return ("request", "path"), f"The path parameter '{rest[0]}' ({value})"
        if location == "query" and rest:
            name = rest[0]
            repeated = sum(1 for key, _ in request.query if key == name) > 1
            where: Parts = ("request", "query", name)
            if repeated and len(rest) > 1 and rest[1].isdigit():
                return (*where, int(rest[1])), f"Item {rest[1]} of the query parameter '{name}'"
            return where, f"The query parameter '{name}'"
        if location == "header" and rest:
            name = rest[0]
            if name == "content-type":
                if request.content_type is not None:
                    return ("request", "content_type"), "The content type"
                written = self._header_name(interaction, name)
                if written is not None:
                    return ("request", "headers", written), "The Content-Type header"
                if request.body_kind != "none":
                    return ("request", request.body_kind), "The request body"
                return ("request",), "The request"
            written = self._header_name(interaction, name) or name
            return ("request", "headers", written), f"The header '{written}'"
        if location == "body":
            if request.body_kind == "none":
                return ("request",), "The request"
            kind = request.body_kind
            if not rest:
                return ("request", kind), "The request body"
            if kind == "form":
                body = request.body if isinstance(request.body, dict) else {}
                where = ("request", "form", rest[0])
                if isinstance(body.get(rest[0]), list) and len(rest) > 1 and rest[1].isdigit():
                    where = (*where, int(rest[1]))
                return where, f"The form field '{rest[0]}'"
            typed = _typed_steps(request.body, rest)
            shown = "$"
            for step in typed:
                shown = json_path(shown, step)
            return ("request", kind, *typed), f"The request body's {shown}"
        return ("request",), "The request"

    @staticmethod
    def _header_name(interaction: Interaction, lower: str) -> str | None:
        for name in interaction.request.headers:
            if name.lower() == lower:
                return name
        return None

    # -- responses -------------------------------------------------------------------------------

    def check_response(
        self, interaction: Interaction, operation: OperationSpec, label: str
    ) -> None:
        response = interaction.response
        code = documented_status(operation.responses, response.status)
        if code is None:
            documented = ", ".join(operation.responses) or "nothing"
            self.add(
                interaction,
                ("response", "status"),
                f"{label} does not document the status {response.status}; it documents"
                f" {documented}.",
            )
            return
        if not response.has_body and response.xml is None:
            return
        media = response_media(self.document, operation, code)
        if media is None:
            return
        response_parts, content = media
        where_status = f"status {response.status}" + (
            f" (documented as {code})" if code != str(response.status) else ""
        )
        if response.xml is not None:
            if not any(is_xml_media_type(m) for m in content):
                self.add(
                    interaction,
                    ("response", "xml"),
                    f"{label} documents no XML body for {where_status}"
                    f"{_documents(content)}, but the contract expects XML.",
                )
            return
        media_type = json_media_type(content)
        if media_type is None:
            self.add(
                interaction,
                ("response", "body"),
                f"{label} documents no JSON body for {where_status}{_documents(content)},"
                " but the contract expects one.",
            )
            return
        media_object = content[media_type]
        if not isinstance(media_object, dict) or "schema" not in media_object:
            return
        schema_parts = (*response_parts, "content", media_type, "schema")
        self.check_body(interaction, response.body, schema_parts, f"{code} {media_type}")

    def check_body(
        self, interaction: Interaction, body: Any, schema_parts: Parts, described: str
    ) -> None:
        resolved = self.lenient_resolver.lookup("#" + quote(_pointer(schema_parts), safe="/~"))
        validator = validator_class(self.version)(
            resolved.contents,
            _resolver=resolved.resolver,
            format_checker=format_checker(self.version),
        )
        example = example_of(body)
        defaulted = _defaulted_paths(body, ())
        reported: set[tuple[Parts, str]] = set()
        try:
            with validation_budget(DEFAULT_BUDGET):
                errors = list(validator.iter_errors(cheap_repr_instance(example)))
        except RecursionError:
            self.add(interaction, ("response", "body"), "The expected body is nested too deeply.")
            return
        except BudgetExceeded as exc:
            self.add(
                interaction,
                ("response", "body"),
                f"The expected body could not be checked within {exc.limit:,} schema checks"
                f" against the document's schema for {described}.",
            )
            return
        except PatternNotRun:
            return  # the document's pattern is refused on its own (patterns.py)
        for error in errors[:MAX_BODY_ERRORS]:
            for path, predicate, kind in _body_errors(error):
                key = (path, predicate)
                if key in reported:
                    continue
                reported.add(key)
                shown = "$"
                for step in path:
                    shown = json_path(shown, step)
                hint = ""
                if kind != "type" and any(path[: len(d)] == d for d in defaulted):
                    hint = (
                        "; the value is a matcher's default example, so give the matcher an"
                        " example that fits"
                    )
                self.add(
                    interaction,
                    ("response", "body", *_locate(body, path)),
                    f"In the expected body, {shown} {predicate} according to the document's"
                    f" schema for {described}{hint}.",
                )


def _documents(content: Mapping[str, Any]) -> str:
    if not content:
        return " (it documents no body)"
    return f" (it documents {', '.join(content)})"


def _typed_steps(body: Any, tokens: Sequence[str]) -> Parts:
    """Pointer tokens as steps into a JSON value (list indices as ints), as far as they go."""
    steps: list[str | int] = []
    node = body
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
            steps.append(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            steps.append(int(token))
        else:
            steps.append(token)
            break
    return tuple(steps)


def _body_errors(error: ValidationError) -> Iterator[tuple[Parts, str, str]]:
    """(path in the example, predicate, the failing keyword) for each leaf error."""
    for leaf in closest_errors(error):
        path: Parts = tuple(leaf.absolute_path)
        kind = str(leaf.validator)
        if kind in ("additionalProperties", "unevaluatedProperties"):
            names = unexpected_properties(leaf)
            if names:
                for name in names:
                    yield (*path, name), "is not allowed", kind
                continue
        yield path, request_detail(leaf), kind


def _defaulted_paths(node: Any, at: Parts) -> set[Parts]:
    """Where the example of an expected body holds a ``$type`` matcher's default example."""
    if is_matcher(node):
        if "$type" in node:
            return set() if "example" in node else {at}
        if "$anyOf" in node:
            options = node["$anyOf"]
            return _defaulted_paths(options[0], at) if options else set()
        if "$each" in node and "example" not in node:
            minimum = node.get("$min", 0)
            count = max(minimum if isinstance(minimum, int) else 0, 1)
            found: set[Parts] = set()
            for index in range(count):
                found |= _defaulted_paths(node["$each"], (*at, index))
            return found
        return set()
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            found |= _defaulted_paths(value, (*at, key))
        return found
    if isinstance(node, list):
        found = set()
        for index, value in enumerate(node):
            found |= _defaulted_paths(value, (*at, index))
        return found
    return set()


def _locate(node: Any, path: Parts, in_data: bool = False) -> Parts:
    """Where, in the expected body's matcher tree, the value at ``path`` of its example comes
    from (as far as it can be followed)."""
    if not in_data and is_matcher(node):
        if "$anyOf" in node:  # the example is the first alternative's
            options = node["$anyOf"]
            return ("$anyOf", 0, *_locate(options[0], path)) if options else ()
        if not path:
            return ()
        if "example" in node:
            return ("example", *_locate(node["example"], path, True))
        if "$each" in node and isinstance(path[0], int):
            return ("$each", *_locate(node["$each"], path[1:]))
        return ()
    if not path:
        return ()
    step = path[0]
    if isinstance(node, dict) and isinstance(step, str) and step in node:
        return (step, *_locate(node[step], path[1:], in_data))
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return (step, *_locate(node[step], path[1:], in_data))
    return ()


# --- entry point --------------------------------------------------------------------------------


def _read_document(contract: Contract, problems: list[StaticProblem]) -> dict[str, Any] | None:
    path = contract.openapi_path
    if path is None:
        problems.append(
            StaticProblem(
                None,
                "/openapi/path",
                "The contract was not loaded from a file, so its OpenAPI document"
                f" ({contract.openapi_ref or 'openapi.path'}) cannot be found; pass the document.",
            )
        )
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.append(
            StaticProblem(None, "/openapi/path", f"The OpenAPI document {path} does not exist.")
        )
        return None
    except OSError as exc:
        problems.append(
            StaticProblem(
                None,
                "/openapi/path",
                f"The OpenAPI document {path} cannot be read: {exc.strerror or exc}.",
            )
        )
        return None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != contract.openapi_sha256:
        problems.append(
            StaticProblem(
                None,
                "/openapi/sha256",
                "The provider's OpenAPI changed since this contract was written"
                f" (sha256 {digest}, expected {contract.openapi_sha256}).",
            )
        )
    try:
        return parse_document(raw)
    except DocumentRefused as refused:
        for problem in refused.problems:
            where = f" at {problem.pointer}" if problem.pointer else ""
            problems.append(
                StaticProblem(
                    None,
                    "/openapi/path",
                    f"The OpenAPI document {path} cannot be used{where}: {problem.message}",
                )
            )
        return None


def check_contract(
    contract: Contract, document: Mapping[str, Any] | None = None
) -> list[StaticProblem]:
    """Every way the contract does not fit its provider's OpenAPI document (empty: it fits).

    Without ``document``, the contract's ``openapi.path`` is read and its sha256 compared with the
    contract's; a ``document`` given (onboarding checks a submitted one) is used as it is.
    """
    problems: list[StaticProblem] = []
    if document is None:
        loaded = _read_document(contract, problems)
        if loaded is None:
            return problems
    else:
        loaded = dict(document)
    analysis = analyse(loaded)
    if analysis.problems or analysis.version is None:
        first = analysis.problems[0] if analysis.problems else None
        count = len(analysis.problems)
        detail = f" (the first, at {first.pointer or 'the top'}: {first.message})" if first else ""
        problems.append(
            StaticProblem(
                None,
                "/openapi/path",
                f"The provider's OpenAPI document has {count} problem{'s' if count != 1 else ''}"
                f"{detail}; the contract cannot be checked against it until they are fixed.",
            )
        )
        return problems
    checker = _Checker(contract, loaded, analysis)
    for interaction in contract.interactions:
        checker.check(interaction)
    problems.extend(checker.problems)
    return problems
