"""Analysing a parsed document: every problem at once, the operations the gateway will expose.

Problems make the document unacceptable; warnings are worth telling the developer but change
nothing. Both carry a JSON pointer into the document and one plain sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from app.services.openapi.expansion import expansion_problems
from app.services.openapi.mediatypes import VALIDATED_KINDS, BodyKind, body_kind
from app.services.openapi.parsing import OpenAPIVersion, check_version
from app.services.openapi.patterns import pattern_problems
from app.services.openapi.problems import DocProblem, pointer
from app.services.openapi.refs import Parts, RefCheck, check_refs, replace_nodes
from app.services.openapi.schema_notes import schema_warnings
from app.services.openapi.spec_validation import spec_problems

__all__ = [
    "HTTP_METHODS",
    "MAX_PROBLEMS",
    "Analysis",
    "MediaTypeSpec",
    "OperationSpec",
    "ParameterLocation",
    "ParameterSpec",
    "RequestBodySpec",
    "analyse",
    "generated_operation_id",
    "path_template_names",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_PROBLEMS = 200
MAX_ITEM_CODE = 64

ParameterLocation = Literal["path", "query", "header", "cookie"]
_LOCATIONS: tuple[ParameterLocation, ...] = ("path", "query", "header", "cookie")
_DEFAULT_STYLE: dict[ParameterLocation, str] = {
    "path": "simple",
    "query": "form",
    "header": "simple",
    "cookie": "form",
}
_TEMPLATE = re.compile(r"\{([^{}/]+)\}")
_SERVER_VARIABLE = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """A parameter as it applies to an operation (path-level merged with operation-level)."""

    name: str
    location: ParameterLocation
    required: bool
    pointer: str  # where it is declared (the $ref object when it is a reference)
    style: str
    explode: bool
    schema_pointer: str | None  # where its schema is (after references), None when it has none
    schema: Any = field(default=None, compare=False, hash=False, repr=False)
    media_type: str | None = None  # for a parameter described by `content` instead of `schema`
    deprecated: bool = False
    allow_empty_value: bool = False


@dataclass(frozen=True, slots=True)
class MediaTypeSpec:
    media_type: str  # as declared, e.g. "application/json"
    kind: BodyKind  # how the gateway treats bodies of this type
    pointer: str
    schema_pointer: str | None
    schema: Any = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class RequestBodySpec:
    required: bool
    pointer: str  # the requestBody member of the operation
    content: tuple[MediaTypeSpec, ...]

    @property
    def media_types(self) -> tuple[str, ...]:
        return tuple(m.media_type for m in self.content)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One method + path template of a service, with what is needed to validate its requests."""

    method: str  # upper-case
    path: str  # the template as written in the document
    pointer: str  # the operation object
    operation_id: str  # the document's, or generated; unique in the document
    generated_id: bool
    summary: str | None
    item_code: str | None  # x-xyb-item
    deprecated: bool
    parameters: tuple[ParameterSpec, ...] = ()
    request_body: RequestBodySpec | None = None
    responses: tuple[str, ...] = ()  # documented status codes: "200", "2XX", "default"
    tags: tuple[str, ...] = ()

    def parameter(self, location: ParameterLocation, name: str) -> ParameterSpec | None:
        for parameter in self.parameters:
            if parameter.location == location and parameter.name == name:
                return parameter
        return None


@dataclass(frozen=True, slots=True)
class Analysis:
    version: OpenAPIVersion | None  # None only when the version itself is the problem
    problems: list[DocProblem]
    warnings: list[DocProblem]
    servers: list[str]
    operations: list[OperationSpec]

    @property
    def ok(self) -> bool:
        return not self.problems


def path_template_names(path: str) -> list[str]:
    return _TEMPLATE.findall(path)


def generated_operation_id(method: str, path: str) -> str:
    """``GET /pets/{id}`` → ``get_pets_id``."""
    words = re.findall(r"[A-Za-z0-9]+", path)
    return "_".join([method.lower(), *(w.lower() for w in words)])


class _Document:
    """Reference-following reads of the document, using the targets :func:`check_refs` found."""

    def __init__(self, document: dict[str, Any], refs: RefCheck) -> None:
        self.document = document
        self.targets = refs.targets
        self.bad = {ref.parts for ref in refs.bad}

    def node(self, parts: Parts) -> Any:
        node: Any = self.document
        for token in parts:
            node = node[token]
        return node

    def follow(self, node: Any, parts: Parts) -> tuple[Any, Parts] | None:
        """The object a (chain of) $ref leads to, or None when one of them is broken."""
        for _ in range(64):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node, parts
            if parts in self.bad or parts not in self.targets:
                return None
            parts = self.targets[parts]
            node = self.node(parts)
        return None


def _as_bool(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


class _Analyser:
    def __init__(self, document: dict[str, Any], version: OpenAPIVersion, refs: RefCheck) -> None:
        self.doc = _Document(document, refs)
        self.version = version
        self.problems: list[DocProblem] = []
        self.warnings: list[DocProblem] = []
        self.operations: list[OperationSpec] = []

    # -- parameters ------------------------------------------------------------------------------

    def parameter(self, node: Any, parts: Parts) -> ParameterSpec | None:
        followed = self.doc.follow(node, parts)
        if followed is None:
            return None
        target, target_parts = followed
        if not isinstance(target, dict):
            return None
        name = target.get("name")
        location = target.get("in")
        if not isinstance(name, str) or location not in _LOCATIONS:
            return None  # the meta-schema check reports it
        style = target.get("style")
        if not isinstance(style, str):
            style = _DEFAULT_STYLE[location]
        explode = _as_bool(target.get("explode"), style == "form")
        schema: Any = None
        schema_pointer: str | None = None
        media_type: str | None = None
        if "schema" in target:
            schema = target["schema"]
            schema_pointer = pointer((*target_parts, "schema"))
        elif isinstance(target.get("content"), dict) and target["content"]:
            media_type, media = next(iter(target["content"].items()))
            if isinstance(media, dict) and "schema" in media:
                schema = media["schema"]
                schema_pointer = pointer((*target_parts, "content", media_type, "schema"))
        return ParameterSpec(
            name=name.lower() if location == "header" else name,
            location=location,
            required=_as_bool(target.get("required"), location == "path"),
            pointer=pointer(parts),
            style=style,
            explode=explode,
            schema_pointer=schema_pointer,
            schema=schema,
            media_type=media_type,
            deprecated=_as_bool(target.get("deprecated"), False),
            allow_empty_value=_as_bool(target.get("allowEmptyValue"), False),
        )

    def parameter_list(self, value: Any, parts: Parts) -> tuple[list[ParameterSpec], bool]:
        """The parameters of one level, and whether all of them could be read."""
        if not isinstance(value, list):
            return [], value is None
        found: list[ParameterSpec] = []
        seen: dict[tuple[str, str], str] = {}
        complete = True
        for index, node in enumerate(value):
            spec = self.parameter(node, (*parts, index))
            if spec is None:
                complete = False
                continue
            key = (spec.name, spec.location)
            if key in seen:
                self.problems.append(
                    DocProblem(
                        spec.pointer,
                        f"The {spec.location} parameter '{spec.name}' is declared twice at this"
                        f" level (first at {seen[key]}).",
                    )
                )
                continue
            seen[key] = spec.pointer
            found.append(spec)
            if spec.location == "cookie":
                self.warnings.append(
                    DocProblem(
                        spec.pointer,
                        f"The gateway does not forward cookies, so the cookie parameter"
                        f" '{spec.name}' never reaches the service; use a header.",
                    )
                )
        return found, complete

    # -- request bodies --------------------------------------------------------------------------

    def request_body(self, operation: dict[str, Any], op_parts: Parts) -> RequestBodySpec | None:
        if "requestBody" not in operation:
            return None
        parts = (*op_parts, "requestBody")
        followed = self.doc.follow(operation["requestBody"], parts)
        if followed is None or not isinstance(followed[0], dict):
            return None
        body, body_parts = followed
        content = body.get("content")
        media_types: list[MediaTypeSpec] = []
        if isinstance(content, dict):
            for media_type, media in content.items():
                media_parts = (*body_parts, "content", media_type)
                schema = media.get("schema") if isinstance(media, dict) else None
                has_schema = isinstance(media, dict) and "schema" in media
                kind = body_kind(media_type)
                media_types.append(
                    MediaTypeSpec(
                        media_type=media_type,
                        kind=kind,
                        pointer=pointer(media_parts),
                        schema_pointer=pointer((*media_parts, "schema")) if has_schema else None,
                        schema=schema,
                    )
                )
                if has_schema and kind not in VALIDATED_KINDS:
                    self.warnings.append(
                        DocProblem(
                            pointer(media_parts),
                            f"Request bodies of type {media_type} are passed to the service"
                            " without validation; the gateway validates JSON and form-encoded"
                            " bodies only.",
                        )
                    )
        return RequestBodySpec(
            required=_as_bool(body.get("required"), False),
            pointer=pointer(parts),
            content=tuple(media_types),
        )

    # -- operations ------------------------------------------------------------------------------

    def path_item(self, path: str, item: Any, parts: Parts) -> None:
        followed = self.doc.follow(item, parts)
        if followed is None or not isinstance(followed[0], dict):
            return
        item, item_parts = followed
        template = path_template_names(path)
        path_level, path_complete = self.parameter_list(
            item.get("parameters"), (*item_parts, "parameters")
        )
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            op_parts = (*item_parts, method)
            op_level, op_complete = self.parameter_list(
                operation.get("parameters"), (*op_parts, "parameters")
            )
            merged: dict[tuple[str, str], ParameterSpec] = {}
            for spec in (*path_level, *op_level):
                merged[(spec.name, spec.location)] = spec
            parameters = tuple(merged.values())
            if path_complete and op_complete:
                self.check_path_parameters(path, template, method, op_parts, parameters)
            self.operation(path, method, operation, op_parts, parameters)

    def check_path_parameters(
        self,
        path: str,
        template: list[str],
        method: str,
        op_parts: Parts,
        parameters: Sequence[ParameterSpec],
    ) -> None:
        declared = {p.name: p for p in parameters if p.location == "path"}
        for name in template:
            if name not in declared:
                self.problems.append(
                    DocProblem(
                        pointer(op_parts),
                        f"The path template {path} has {{{name}}}, but {method.upper()} declares"
                        f" no path parameter '{name}' (in: path) at the path or operation level.",
                    )
                )
        for name, spec in declared.items():
            if name not in template:
                self.problems.append(
                    DocProblem(
                        spec.pointer,
                        f"The path parameter '{name}' is not in the path template {path}.",
                    )
                )

    def operation(
        self,
        path: str,
        method: str,
        operation: dict[str, Any],
        op_parts: Parts,
        parameters: tuple[ParameterSpec, ...],
    ) -> None:
        where = pointer(op_parts)
        operation_id = operation.get("operationId")
        item_code: str | None = None
        if "x-xyb-item" in operation:
            value = operation["x-xyb-item"]
            if isinstance(value, str) and value.strip() and len(value) <= MAX_ITEM_CODE:
                item_code = value
            else:
                if isinstance(value, str):
                    found = "empty" if not value.strip() else f"{len(value)} characters long"
                else:
                    found = _kind(value) + (" (quote it in YAML)" if _is_number(value) else "")
                self.problems.append(
                    DocProblem(
                        pointer((*op_parts, "x-xyb-item")),
                        "x-xyb-item must be the service item's code, a non-empty string of at"
                        f" most {MAX_ITEM_CODE} characters; it is {found}.",
                    )
                )
        responses = operation.get("responses")
        codes = tuple(str(code) for code in responses) if isinstance(responses, dict) else ()
        if not any(code.startswith("2") for code in codes):
            self.warnings.append(
                DocProblem(
                    pointer((*op_parts, "responses")) if isinstance(responses, dict) else where,
                    f"{method.upper()} {path} documents no successful (2xx) response.",
                )
            )
        security = operation.get("security")
        if isinstance(security, list) and security:
            self.warnings.append(
                DocProblem(
                    pointer((*op_parts, "security")),
                    f"{method.upper()} {path} declares security requirements; the gateway"
                    " authenticates callers itself and does not pass their credentials on.",
                )
            )
        summary = operation.get("summary")
        tags = operation.get("tags")
        self.operations.append(
            OperationSpec(
                method=method.upper(),
                path=path,
                pointer=where,
                operation_id=operation_id if isinstance(operation_id, str) else "",
                generated_id=not (isinstance(operation_id, str) and operation_id),
                summary=summary if isinstance(summary, str) else None,
                item_code=item_code,
                deprecated=_as_bool(operation.get("deprecated"), False),
                parameters=parameters,
                request_body=self.request_body(operation, op_parts),
                responses=codes,
                tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            )
        )

    def paths(self, paths: Any) -> None:
        if not isinstance(paths, dict):
            return
        routes: dict[str, str] = {}
        for path, item in paths.items():
            if not path.startswith("/"):
                continue  # the meta-schema check reports it (or it is an x- extension)
            parts: Parts = ("paths", path)
            shape = _TEMPLATE.sub("{}", path)
            if "{" in shape.replace("{}", "") or "}" in shape.replace("{}", ""):
                self.problems.append(
                    DocProblem(
                        pointer(parts),
                        f"The path template {path} has an unmatched or misplaced brace.",
                    )
                )
            names = path_template_names(path)
            for name in sorted({n for n in names if names.count(n) > 1}):
                self.problems.append(
                    DocProblem(
                        pointer(parts),
                        f"The path template {path} uses {{{name}}} more than once.",
                    )
                )
            if shape in routes:
                self.problems.append(
                    DocProblem(
                        pointer(parts),
                        f"The path {path} matches the same requests as {routes[shape]}; only"
                        " the names of their parameters differ.",
                    )
                )
            else:
                routes[shape] = path
            self.path_item(path, item, parts)

    # -- operation ids ---------------------------------------------------------------------------

    def name_operations(self) -> None:
        by_id: dict[str, list[int]] = {}
        for index, op in enumerate(self.operations):
            if not op.generated_id:
                by_id.setdefault(op.operation_id, []).append(index)
        taken = set(by_id)
        for op_id, indices in by_id.items():
            if len(indices) < 2:
                continue
            for index in indices:
                op = self.operations[index]
                others = ", ".join(
                    f"{self.operations[i].method} {self.operations[i].path}"
                    for i in indices
                    if i != index
                )
                self.problems.append(
                    DocProblem(
                        op.pointer + "/operationId",
                        f"The operationId '{op_id}' is also used by {others}; operationIds must"
                        " be unique.",
                    )
                )
            for index in indices[1:]:  # keep ids unique even in a refused document
                op = self.operations[index]
                self.operations[index] = _replace(op, _unique(op_id, taken), op.generated_id)
        for index, op in enumerate(self.operations):
            if not op.generated_id:
                continue
            name = _unique(generated_operation_id(op.method, op.path), taken)
            self.operations[index] = _replace(op, name, True)
            self.warnings.append(
                DocProblem(
                    op.pointer,
                    f"{op.method} {op.path} has no operationId; the gateway names it '{name}'.",
                )
            )


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _replace(op: OperationSpec, operation_id: str, generated: bool) -> OperationSpec:
    return replace(op, operation_id=operation_id, generated_id=generated)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "not a string"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _servers(document: dict[str, Any], problems: list[DocProblem]) -> list[str]:
    servers = document.get("servers")
    if not isinstance(servers, list):
        return []
    urls: list[str] = []
    for index, server in enumerate(servers):
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        variables = server.get("variables")
        variables = variables if isinstance(variables, dict) else {}

        def substitute(match: re.Match[str], index: int = index, variables: Any = variables) -> str:
            name = match.group(1)
            variable = variables.get(name)
            if isinstance(variable, dict) and isinstance(
                variable.get("default"), (str, int, float)
            ):
                return str(variable["default"])  # a number is the meta-schema check's finding
            problems.append(
                DocProblem(
                    pointer(("servers", index, "url")),
                    f"The server URL uses {{{name}}}, but the server defines no variable '{name}'"
                    " with a default.",
                )
            )
            return match.group(0)

        count = len(problems)
        url = _SERVER_VARIABLE.sub(substitute, server["url"])
        if len(problems) == count:  # a URL with an unresolved {variable} is no URL to use
            urls.append(url)
    return urls


def _check_paths_and_webhooks(document: dict[str, Any], analyser: _Analyser) -> None:
    """The gateway routes the operations under ``paths``; it never routes webhooks (requests the
    service would send, not receive). OpenAPI 3.1 only: in 3.0 ``paths`` is required and
    ``webhooks`` not allowed, which the meta-schema check reports."""
    if analyser.version != "3.1":
        return
    has_webhooks = isinstance(document.get("webhooks"), dict) and bool(document["webhooks"])
    if "paths" in document:
        if has_webhooks:
            analyser.warnings.append(
                DocProblem(
                    "/webhooks",
                    "Webhooks are not routed through the gateway; they are dropped, and only the"
                    " operations under paths are exposed.",
                )
            )
    elif has_webhooks:
        analyser.problems.append(
            DocProblem(
                "/webhooks",
                "The document has webhooks but no paths; webhooks are not routed through the"
                " gateway, so it has no operations to expose.",
            )
        )
    elif "components" in document:  # with neither, the meta-schema check asks for one of them
        analyser.problems.append(
            DocProblem("", "The document has no paths, so it has no operations to expose.")
        )


def _finish(problems: list[DocProblem]) -> list[DocProblem]:
    """Each distinct problem once, at most MAX_PROBLEMS of them and a count of the rest."""
    seen: set[DocProblem] = set()
    unique: list[DocProblem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    if len(unique) <= MAX_PROBLEMS:
        return unique
    rest = len(unique) - MAX_PROBLEMS
    return [
        *unique[:MAX_PROBLEMS],
        DocProblem("", f"… and {rest} more problem{'s' if rest != 1 else ''} not listed here."),
    ]


def analyse(document: dict[str, Any], *, check_spec: bool = True) -> Analysis:
    """Every problem and warning in a parsed document, and the operations it describes.

    When there are problems, ``operations`` may be incomplete: the document is to be refused.
    ``check_spec=False`` skips openapi-spec-validator, by far the slowest part (about 1.5–3 ms per
    operation or schema), and the pattern and expansion checks: for a document that was already
    accepted and is only being loaded.
    """
    version, version_problems = check_version(document)
    if version is None:
        return Analysis(None, version_problems, [], [], [])

    refs = check_refs(document)
    analyser = _Analyser(document, version, refs)
    servers = _servers(document, analyser.problems)
    _check_paths_and_webhooks(document, analyser)
    analyser.paths(document.get("paths"))
    analyser.name_operations()
    security = document.get("security")
    if isinstance(security, list) and security:
        analyser.warnings.insert(
            0,
            DocProblem(
                "/security",
                "The document declares security requirements; the gateway authenticates callers"
                " itself and does not pass their credentials on.",
            ),
        )

    found: list[DocProblem] = []
    # One walk of the document: cheap enough for the quick load too, whose warnings then match.
    checker_warnings: list[DocProblem] = schema_warnings(document, version)
    costly: list[DocProblem] = []
    if check_spec:
        # Patterns RE2 cannot run and schemas that multiply the work of one check: what request
        # validation would otherwise find out the hard way (see keywords.py).
        multiplying = expansion_problems(document, refs)
        costly = [*pattern_problems(document, refs), *multiplying]
        if not multiplying:
            # openapi-spec-validator walks allOf/anyOf/oneOf along every path, as validation
            # would: a schema refused for multiplying the work would hold it for hours (2^n).
            # Its findings wait until the document no longer multiplies.
            sanitized = replace_nodes(document, {ref.parts: {} for ref in refs.bad})
            found, spec_warnings = spec_problems(document, sanitized, version)
            checker_warnings = [*spec_warnings, *checker_warnings]
    problems = _finish([*refs.problems, *analyser.problems, *costly, *found])
    return Analysis(
        version=version,
        problems=problems,
        warnings=[*analyser.warnings, *checker_warnings],
        servers=servers,
        operations=analyser.operations,
    )
