"""Contract files: the model, and loading them with every problem reported at once.

A contract file (``contracts/<connector>/<provider>.contract.yaml``, format in
``contracts/README.md``) is read as YAML (JSON is YAML), checked against ``contract.schema.json``
and a few rules the schema cannot state (unique interaction ids, the provider named like its file,
regexes that compile, examples that fit their matchers), and becomes a frozen :class:`Contract`.
A file that breaks any rule raises :class:`ContractFileError` with every problem, each located by a
JSON pointer into the file and said in one plain sentence.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.contracts.matchers import (
    TYPE_NAMES,
    is_matcher,
    json_type_of,
    value_has_type,
)
from app.core.safe_regex import PatternRefused, compile_pattern
from app.services.openapi.problems import escape_token

__all__ = [
    "CONTRACT_SUFFIXES",
    "FORMAT_VERSION",
    "BodyKind",
    "Contract",
    "ContractFileError",
    "ContractProblem",
    "Interaction",
    "ProviderState",
    "RequestSpec",
    "ResponseSpec",
    "contract_schema",
    "load_contract",
    "parse_contract",
    "provider_name_of",
]

FORMAT_VERSION = 1
CONTRACT_SUFFIXES = (".contract.yaml", ".contract.yml", ".contract.json")
MAX_VALUES = 200_000  # values in a file once YAML aliases are expanded
MAX_DEPTH = 100

BodyKind = Literal["none", "json", "form", "xml", "text"]
_BODY_KEYS: tuple[BodyKind, ...] = ("json", "form", "xml", "text")
_DEFAULT_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "xml": "application/xml",
    "text": "text/plain; charset=utf-8",
}

Parts = tuple[str | int, ...]


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderState:
    """The provider state an interaction needs (``given``): a name and its parameters."""

    state: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """The request an interaction makes. ``query`` holds the pairs in order (a list value in the
    file becomes repeated pairs); ``body`` is the JSON value, the form map, or the XML/text."""

    method: str | None
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    body_kind: BodyKind = "none"
    body: Any = None
    content_type: str | None = None

    def encoded_body(self) -> bytes:
        """The body's bytes: compact UTF-8 JSON, urlencoded UTF-8 form, or the UTF-8 text."""
        if self.body_kind == "none":
            return b""
        if self.body_kind == "json":
            return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()
        if self.body_kind == "form":
            pairs: list[tuple[str, str]] = []
            for key, value in (self.body or {}).items():
                if isinstance(value, (list, tuple)):
                    pairs.extend((str(key), str(v)) for v in value)
                else:
                    pairs.append((str(key), str(value)))
            return urlencode(pairs, encoding="utf-8").encode("ascii")
        return str(self.body).encode("utf-8")

    def effective_content_type(self) -> str | None:
        """The Content-Type to send: the explicit one, else the body kind's (None without body)."""
        if self.content_type:
            return self.content_type
        return _DEFAULT_CONTENT_TYPES.get(self.body_kind)


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """What the provider must answer. ``body`` is a matcher tree (only meaningful when
    ``has_body``: an absent body and a JSON ``null`` body differ); ``xml`` maps ElementTree paths
    to matchers; ``headers`` maps names (case-insensitive) to matchers."""

    status: int
    headers: dict[str, Any]
    body: Any | None
    xml: dict[str, Any] | None
    has_body: bool = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Interaction:
    id: str
    description: str | None
    operation: str  # an operationId or "METHOD /path/{template}"
    given: ProviderState | None
    request: RequestSpec
    response: ResponseSpec
    pointer: str  # of the interaction in its file: "/interactions/3"


@dataclass(frozen=True, slots=True)
class Contract:
    path: Path | None  # the file, when loaded from one
    format: int
    connector: str
    provider: str
    description: str | None
    openapi_path: Path | None  # resolved against the contract's directory; None without one
    openapi_sha256: str
    interactions: tuple[Interaction, ...]
    openapi_ref: str = ""  # openapi.path as written in the file

    @property
    def name(self) -> str:
        return f"{self.connector}/{self.provider}"

    def interaction(self, interaction_id: str) -> Interaction:
        """The interaction with this id; KeyError when there is none."""
        for interaction in self.interactions:
            if interaction.id == interaction_id:
                return interaction
        raise KeyError(f"{self.name} has no interaction {interaction_id!r}")


# --- problems -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractProblem:
    """One thing wrong with a contract file: a JSON pointer into it ("" for the whole file) and
    one plain sentence."""

    pointer: str
    message: str

    def render(self, source: str) -> str:
        if self.pointer:
            return f"{source}: {self.pointer}: {self.message}"
        return f"{source}: {self.message}"


class ContractFileError(ValueError):
    """A contract file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: Sequence[ContractProblem]) -> None:
        self.source = source
        self.problems: list[ContractProblem] = list(problems)
        super().__init__("\n".join(p.render(source) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(p.render(self.source) for p in self.problems)


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + escape_token(p) for p in parts)


# --- reading ------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """The safe loader, read the YAML 1.2 way where 1.1 surprises: unquoted dates stay text, and
    only true/false are booleans (``on``, ``yes``, ``no`` are strings, keys included)."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _load_yaml(text: str) -> tuple[Any, list[ContractProblem]]:
    try:
        return yaml.load(text, Loader=_Loader), []  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        return None, [ContractProblem("", f"The YAML is not valid{where}: {what}.")]
    except yaml.YAMLError as exc:
        return None, [ContractProblem("", f"The YAML is not valid: {exc}.")]
    except RecursionError:
        return None, [ContractProblem("", "The file is nested too deeply to read.")]


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class _TooBig(Exception):
    pass


def _normalise(data: Any, problems: list[ContractProblem]) -> Any:
    """Plain JSON values: string keys, no shared (aliased) parts; non-finite numbers reported."""
    count = 0

    def convert(value: Any, parts: Parts) -> Any:
        nonlocal count
        count += 1
        if count > MAX_VALUES or len(parts) > MAX_DEPTH:
            raise _TooBig
        if isinstance(value, Mapping):
            return {_key_text(k): convert(v, (*parts, _key_text(k))) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v, (*parts, i)) for i, v in enumerate(value)]
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(
                ContractProblem(_pointer(parts), f"{value} is not a number JSON can represent.")
            )
        elif isinstance(value, (dt.date, dt.datetime)):  # from a loader that reads timestamps
            return value.isoformat()
        elif isinstance(value, bytes):
            problems.append(ContractProblem(_pointer(parts), "Binary values are not allowed."))
        return value

    try:
        return convert(data, ())
    except (_TooBig, RecursionError):
        problems.append(
            ContractProblem(
                "",
                f"The file is too large or nested too deeply once YAML aliases are expanded"
                f" (at most {MAX_VALUES:,} values, {MAX_DEPTH} levels).",
            )
        )
        return None


# --- the schema and its errors as sentences -----------------------------------------------------


@cache
def contract_schema() -> dict[str, Any]:
    """The format's JSON Schema (``contract.schema.json`` in this package)."""
    text = resources.files("app.contracts").joinpath("contract.schema.json").read_text("utf-8")
    schema = json.loads(text)
    assert isinstance(schema, dict)
    return schema


@cache
def _validator() -> Draft202012Validator:
    schema = contract_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


_TYPE_PHRASES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _phrase_types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    phrases = [_TYPE_PHRASES.get(str(n), str(n)) for n in names]
    if not phrases:
        return "of another type"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _subject(path: Sequence[str | int]) -> str:
    if not path:
        return "The contract"
    last = path[-1]
    if isinstance(last, int):
        return f"Item {last}"
    return f"'{last}'"


def _what(path: Sequence[str | int]) -> str:
    """What kind of object is at ``path`` (for "'x' is not a field of a request")."""
    if not path:
        return "the contract"
    if len(path) == 1 and path[0] == "openapi":
        return "openapi"
    if len(path) == 2 and path[0] == "interactions":
        return "an interaction"
    if len(path) == 3 and path[0] == "interactions":
        return {"given": "given", "request": "a request", "response": "a response"}.get(
            str(path[2]), "this mapping"
        )
    return "this matcher"


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _yaml_hint(error: ValidationError) -> str:
    expected = error.validator_value
    names = [expected] if isinstance(expected, str) else expected
    scalar = isinstance(error.instance, (int, float, bool)) or error.instance is None
    if isinstance(names, list) and "string" in names and scalar:
        return " (quote it in YAML)"
    return ""


def _schema_problems(error: ValidationError) -> list[ContractProblem]:
    path = list(error.absolute_path)
    here = _pointer(path)
    kind = error.validator
    value: Any = error.validator_value
    instance = error.instance
    if kind == "required":
        names = [n for n in value if isinstance(instance, dict) and n not in instance]
        return [
            ContractProblem(here, f"The field '{name}' is required in {_what(path)}.")
            for name in names
        ]
    if kind == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = list(schema.get("properties", {}))
        known = set(allowed)
        extra = [k for k in instance if k not in known] if isinstance(instance, dict) else []
        hint = f"; the fields are {', '.join(allowed)}" if allowed else ""
        return [
            ContractProblem(
                _pointer([*path, name]), f"'{name}' is not a field of {_what(path)}{hint}."
            )
            for name in extra
        ]
    if kind == "not" and "propertyNames" in error.schema_path:
        return [
            ContractProblem(
                _pointer([*path, str(instance)]),
                f"'{instance}' is not a matcher keyword: a matcher object has $type, $regex,"
                " $anyOf or $each (with $min and example); other keys starting with $ are"
                " reserved.",
            )
        ]
    if kind == "type":
        return [
            ContractProblem(
                here,
                f"{_subject(path)} must be {_phrase_types(value)},"
                f" not {_TYPE_PHRASES.get(json_type_of(instance), 'that')}{_yaml_hint(error)}.",
            )
        ]
    if kind == "pattern":
        if len(path) == 3 and path[0] == "interactions" and path[2] == "id":
            message = (
                f"The interaction id {_show(instance)} is not valid: use lower-case letters,"
                " digits and '-', starting with a letter or digit."
            )
        elif path == ["openapi", "sha256"]:
            message = "The sha256 must be 64 lower-case hexadecimal digits."
        elif len(path) == 4 and path[2] == "request" and path[3] == "path":
            message = (
                f"The path {_show(instance)} must start with '/' and carry no query string or"
                " fragment (put query parameters under query)."
            )
        elif path in (["connector"], ["provider"]):
            message = (
                f"The {path[0]} name {_show(instance)} is not valid: use lower-case letters,"
                " digits, '-' and '_', starting with a letter or digit."
            )
        else:
            message = f"{_subject(path)} must match the pattern {value}."
        return [ContractProblem(here, message)]
    if kind == "enum":
        shown = [v if isinstance(v, str) else _show(v) for v in value]
        options = ", ".join(dict.fromkeys(shown))
        return [
            ContractProblem(
                here, f"{_subject(path)} must be one of {options}; not {_show(instance)}."
            )
        ]
    if kind == "const":
        return [ContractProblem(here, f"{_subject(path)} must be {_show(value)}.")]
    if kind == "minItems":
        return [
            ContractProblem(
                here,
                f"{_subject(path)} must have at least {value} item{'s' if value != 1 else ''}.",
            )
        ]
    if kind == "minLength":
        return [ContractProblem(here, f"{_subject(path)} must not be empty.")]
    if kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        return [ContractProblem(here, f"{_subject(path)} must be {word} {value}.")]
    if kind == "dependentRequired":
        needs = [
            (name, required)
            for name, required in value.items()
            if isinstance(instance, dict) and name in instance
            for required in required
            if required not in instance
        ]
        return [
            ContractProblem(here, f"A '{name}' body needs '{required}' as well.")
            for name, required in needs
        ]
    if kind == "not" and isinstance(instance, dict):
        if len(path) == 3 and path[2] == "request":
            bodies = [k for k in _BODY_KEYS if k in instance]
            return [
                ContractProblem(
                    here,
                    f"The request has more than one body ({' and '.join(bodies)}); give at most"
                    " one of json, form, xml or text.",
                )
            ]
        if len(path) == 3 and path[2] == "response":
            return [
                ContractProblem(
                    here,
                    "The response has both body and xml; a response expects a JSON body or"
                    " XML, not both.",
                )
            ]
    return [ContractProblem(here, f"{_subject(path)} does not fit the format ({error.message}).")]


# --- rules beyond the schema --------------------------------------------------------------------


def _check_matchers(node: Any, parts: Parts, problems: list[ContractProblem]) -> None:
    """Regexes compile and examples fit their matchers, everywhere in a matcher tree."""
    if isinstance(node, dict):
        if is_matcher(node):
            if "$type" in node:
                type_name = node["$type"]
                if (
                    "example" in node
                    and type_name in TYPE_NAMES
                    and not value_has_type(node["example"], str(type_name))
                ):
                    problems.append(
                        ContractProblem(
                            _pointer((*parts, "example")),
                            f"The example {_show(node['example'])} is not"
                            f" {_TYPE_PHRASES.get(str(type_name), str(type_name))}"
                            f" (the matcher's $type is {type_name}).",
                        )
                    )
            if "$regex" in node and isinstance(node["$regex"], str):
                try:  # RE2, as the matcher runs it: linear time, refused with a reason
                    compiled = compile_pattern(node["$regex"])
                except PatternRefused as exc:
                    problems.append(
                        ContractProblem(
                            _pointer((*parts, "$regex")), f"The regex cannot be used: {exc}."
                        )
                    )
                else:
                    example = node.get("example")
                    if isinstance(example, str) and not compiled.search(example):
                        problems.append(
                            ContractProblem(
                                _pointer((*parts, "example")),
                                f"The example {_show(example)} does not match the regex"
                                f" {node['$regex']}.",
                            )
                        )
            if isinstance(node.get("$anyOf"), list):
                for index, option in enumerate(node["$anyOf"]):
                    _check_matchers(option, (*parts, "$anyOf", index), problems)
            if "$each" in node:
                _check_matchers(node["$each"], (*parts, "$each"), problems)
            return
        for key, value in node.items():
            _check_matchers(value, (*parts, key), problems)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_matchers(value, (*parts, index), problems)


def provider_name_of(path: Path) -> str:
    """The provider a contract file is for: its name without ``.contract.yaml``."""
    name = path.name
    for suffix in CONTRACT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _rule_problems(data: dict[str, Any], file_path: Path | None) -> list[ContractProblem]:
    problems: list[ContractProblem] = []
    interactions = data.get("interactions")
    if isinstance(interactions, list):
        first_seen: dict[str, int] = {}
        for index, interaction in enumerate(interactions):
            if not isinstance(interaction, dict):
                continue
            ident = interaction.get("id")
            if isinstance(ident, str):
                if ident in first_seen:
                    problems.append(
                        ContractProblem(
                            f"/interactions/{index}/id",
                            f"The interaction id '{ident}' is already used by"
                            f" /interactions/{first_seen[ident]}; ids must be unique in a file.",
                        )
                    )
                else:
                    first_seen[ident] = index
            response = interaction.get("response")
            if isinstance(response, dict):
                base: Parts = ("interactions", index, "response")
                if "body" in response:
                    _check_matchers(response["body"], (*base, "body"), problems)
                for key in ("headers", "xml"):
                    if isinstance(response.get(key), dict):
                        for name, matcher in response[key].items():
                            _check_matchers(matcher, (*base, key, name), problems)
    provider = data.get("provider")
    if file_path is not None and isinstance(provider, str):
        expected = provider_name_of(file_path)
        if provider != expected:
            problems.append(
                ContractProblem(
                    "/provider",
                    f"The provider is '{provider}', but the file is named for '{expected}'"
                    f" ({file_path.name}); a contract file is named <provider>.contract.yaml.",
                )
            )
    return problems


# --- building the model -------------------------------------------------------------------------


def _query_pairs(query: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        if isinstance(value, list):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return tuple(pairs)


def _request(data: Mapping[str, Any]) -> RequestSpec:
    kind: BodyKind = "none"
    body: Any = None
    for candidate in _BODY_KEYS:
        if candidate in data:
            kind, body = candidate, data[candidate]
            break
    return RequestSpec(
        method=data.get("method"),
        path=data["path"],
        query=_query_pairs(data.get("query")),
        headers=dict(data.get("headers") or {}),
        body_kind=kind,
        body=body,
        content_type=data.get("content_type"),
    )


def _response(data: Mapping[str, Any]) -> ResponseSpec:
    return ResponseSpec(
        status=data["status"],
        headers=dict(data.get("headers") or {}),
        body=data.get("body"),
        xml=dict(data["xml"]) if "xml" in data else None,
        has_body="body" in data,
    )


def _build(data: dict[str, Any], file_path: Path | None, base_dir: Path | None) -> Contract:
    interactions: list[Interaction] = []
    for index, item in enumerate(data["interactions"]):
        given = item.get("given")
        interactions.append(
            Interaction(
                id=item["id"],
                description=item.get("description"),
                operation=item["operation"],
                given=(
                    ProviderState(given["state"], dict(given.get("params") or {}))
                    if given is not None
                    else None
                ),
                request=_request(item["request"]),
                response=_response(item["response"]),
                pointer=f"/interactions/{index}",
            )
        )
    openapi = data["openapi"]
    return Contract(
        path=file_path,
        format=data["format"],
        connector=data["connector"],
        provider=data["provider"],
        description=data.get("description"),
        openapi_path=(base_dir / openapi["path"]) if base_dir is not None else None,
        openapi_sha256=openapi["sha256"],
        interactions=tuple(interactions),
        openapi_ref=openapi["path"],
    )


def _spell_null(node: Any) -> None:
    if isinstance(node, dict):
        if "$type" in node and node["$type"] is None:
            node["$type"] = "null"
        for value in node.values():
            _spell_null(value)
    elif isinstance(node, list):
        for value in node:
            _spell_null(value)


def _null_type_names(tree: dict[str, Any]) -> None:
    """``$type: null`` (YAML's null, unquoted) in an expected body means the type "null"."""
    interactions = tree.get("interactions")
    for interaction in interactions if isinstance(interactions, list) else []:
        response = interaction.get("response") if isinstance(interaction, dict) else None
        if isinstance(response, dict) and "body" in response:
            _spell_null(response["body"])


def _check_format(data: dict[str, Any]) -> list[ContractProblem]:
    value = data.get("format")
    if isinstance(value, int) and not isinstance(value, bool) and value != FORMAT_VERSION:
        return [
            ContractProblem(
                "/format",
                f"Contract format {value} is not known here; this gateway reads format"
                f" {FORMAT_VERSION}.",
            )
        ]
    return []


def _parse(
    data: str | bytes | Mapping[str, Any],
    source: str,
    base_dir: Path | None,
    file_path: Path | None,
) -> Contract:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise ContractFileError(
                source,
                [ContractProblem("", f"The file is not UTF-8 text (byte offset {exc.start}).")],
            ) from None
    if isinstance(data, str):
        loaded, problems = _load_yaml(data)
        if problems:
            raise ContractFileError(source, problems)
    else:
        loaded = data
    problems = []
    tree = _normalise(loaded, problems)
    if problems:
        raise ContractFileError(source, problems)
    if not isinstance(tree, dict):
        shown = "empty" if tree is None else f"{_TYPE_PHRASES.get(json_type_of(tree), 'a value')}"
        raise ContractFileError(
            source, [ContractProblem("", f"A contract file is a mapping; this one is {shown}.")]
        )
    problems = _check_format(tree)
    if problems:
        raise ContractFileError(source, problems)
    _null_type_names(tree)
    for error in sorted(_validator().iter_errors(tree), key=_error_order):
        for problem in _schema_problems(error):
            if problem not in problems:
                problems.append(problem)
    problems.extend(p for p in _rule_problems(tree, file_path) if p not in problems)
    if problems:
        raise ContractFileError(source, problems)
    return _build(tree, file_path, base_dir)


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(p).zfill(8) if isinstance(p, int) else str(p) for p in error.absolute_path)


def parse_contract(
    data: str | bytes | Mapping[str, Any], *, source: str, base_dir: Path | None = None
) -> Contract:
    """A contract from its text (YAML or JSON) or an already-loaded mapping.

    ``source`` names it in problems; ``base_dir`` is where ``openapi.path`` is relative to (without
    it ``openapi_path`` is None). Raises :class:`ContractFileError` with every problem found.
    """
    return _parse(data, source, base_dir, None)


def load_contract(path: Path) -> Contract:
    """A contract file (``<provider>.contract.yaml``); raises :class:`ContractFileError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractFileError(
            str(path), [ContractProblem("", f"The file cannot be read: {exc.strerror or exc}.")]
        ) from None
    return _parse(raw, str(path), path.parent, path)
