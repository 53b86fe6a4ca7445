"""Turning submitted bytes into an OpenAPI document: JSON or YAML, safely and within limits.

YAML is loaded with the safe loader only (libyaml's when available). Before anything is built, the
composed node graph is measured with aliases expanded — by memoised counting, never by expanding —
so a "billion laughs" document is refused in milliseconds with little memory. The result is a plain
tree of dicts, lists and JSON scalars: mapping keys are the text the author wrote (``200:`` becomes
``"200"``), YAML dates and datetimes become ISO 8601 strings, and shared (aliased) parts are copied.
A key given twice in the same mapping (YAML or JSON) is refused, with its pointer and line: which
of the two values counts differs between tools.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.services.openapi.problems import DocProblem, DocumentRefused, pointer

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "OpenAPIVersion",
    "check_version",
    "document_title",
    "parse_document",
]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_NODES = 2_000_000

OpenAPIVersion = Literal["3.0", "3.1"]
Format = Literal["json", "yaml"]

_JSON_TYPES = frozenset({"application/json", "text/json"})
_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VERSION = re.compile(r"^3\.(0|1)\.\d+(?:-[0-9A-Za-z.-]+)?$")

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LIBYAML = _SafeLoader is not yaml.SafeLoader


def _refuse(pointer_: str, message: str) -> DocumentRefused:
    return DocumentRefused([DocProblem(pointer_, message)])


def _format_for(content_type: str | None) -> Format | None:
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or media.endswith("+json"):
        return "json"
    if media in _YAML_TYPES or media.endswith("+yaml"):
        return "yaml"
    return None


def _too_deep(max_depth: int) -> DocumentRefused:
    return _refuse("", f"The document is nested more than {max_depth} levels deep.")


def _too_many(max_nodes: int) -> DocumentRefused:
    return _refuse(
        "",
        f"The document has more than {max_nodes:,} values once YAML aliases are expanded;"
        " split it or remove the aliases that multiply it.",
    )


# --- JSON ---------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _load_json(text: str, max_depth: int) -> tuple[Any, list[DocProblem]]:
    """The JSON's values, and a problem for each key given twice in an object."""
    found_duplicate = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found_duplicate
        result = dict(pairs)
        if len(result) != len(pairs):
            found_duplicate = True
        return result

    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise _refuse(
            "", f"The JSON is not valid at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:  # NaN/Infinity, integers longer than Python converts
        raise _refuse("", f"The JSON is not valid: {exc}.") from None
    return data, _json_duplicate_keys(text) if found_duplicate else []


_JSON_STRUCTURE = re.compile(r'["{}\[\],]')
_STRING = json.JSONDecoder()  # raw_decode at a '"' reads that string and says where it ends


def _json_duplicate_keys(text: str) -> list[DocProblem]:
    """Each key given again in the same object of (valid) JSON text, with its pointer and line.

    Only run when parsing found a duplicate: json.loads says neither where nor which.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]
    problems: list[DocProblem] = []
    # Per open object or array: [keys seen (key → line) or None for an array, current member,
    # whether a key comes next]
    stack: list[list[Any]] = []
    position = 0
    while (match := _JSON_STRUCTURE.search(text, position)) is not None:
        char, start = match.group(), match.start()
        position = start + 1
        if char == '"':
            value, position = _STRING.raw_decode(text, start)
            top = stack[-1] if stack else None
            if top is not None and top[0] is not None and top[2]:
                line = bisect.bisect_left(newlines, start) + 1
                parts = (*(frame[1] for frame in stack[:-1]), value)
                if value in top[0]:
                    problems.append(_duplicate_key(parts, value, top[0][value], line))
                else:
                    top[0][value] = line
                top[1], top[2] = value, False
        elif char == "{":
            stack.append([{}, None, True])
        elif char == "[":
            stack.append([None, 0, False])
        elif char in "}]":
            stack.pop()
        elif stack:  # a comma
            top = stack[-1]
            if top[0] is None:
                top[1] += 1
            else:
                top[2] = True
    return problems


def _duplicate_key(parts: tuple[str | int, ...], key: str, first: int, again: int) -> DocProblem:
    shown = key if len(key) <= 60 else key[:59] + "…"
    where = f"twice on line {first}" if first == again else f"at line {first} and at line {again}"
    return DocProblem(
        pointer(parts),
        f"The key '{shown}' is given more than once in the same mapping ({where}); only one"
        " value would count, so keep one of them.",
    )


# --- YAML ---------------------------------------------------------------------------------------


def _mark(node_or_error: Any) -> str:
    mark = getattr(node_or_error, "problem_mark", None) or getattr(
        node_or_error, "start_mark", None
    )
    if mark is None:
        return ""
    return f" at line {mark.line + 1}, column {mark.column + 1}"


def _yaml_error(exc: yaml.YAMLError, max_depth: int) -> DocumentRefused:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem, context = exc.problem or "", exc.context or ""
        if problem and context:
            what = f"{context}{',' if problem.startswith('but ') else ':'} {problem}"
        else:
            what = problem or context or "invalid YAML"
        if "nesting depth" in what:  # libyaml stops at 1000 levels
            return _too_deep(max_depth)
        return _refuse("", f"The YAML is not valid{_mark(exc)}: {what}.")
    return _refuse("", f"The YAML is not valid: {exc}.")


def _check_event_depth(text: str, max_depth: int) -> None:
    """Without libyaml the composer recurses per level: measure the depth on events first."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _measure_nodes(root: Node, max_depth: int, max_nodes: int) -> None:
    """Size and depth of the node graph with aliases expanded, memoised (never expanded).

    Also makes every scalar mapping key a string (``200:`` → ``"200"``, ``on:`` → ``"on"``).
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            total, deepest = 1, 0
            for child in _children(node):
                total += size[id(child)]
                deepest = max(deepest, depth[id(child)])
            if total > max_nodes:
                raise _too_many(max_nodes)
            level = deepest + (0 if isinstance(node, ScalarNode) else 1)
            if level > max_depth:
                raise _too_deep(max_depth)
            size[key] = total
            depth[key] = level
            continue
        if key in size:
            continue
        if key in in_progress:
            raise _refuse("", f"The YAML has an alias that contains itself{_mark(node)}.")
        if isinstance(node, ScalarNode):
            size[key] = 1
            depth[key] = 0
            continue
        in_progress.add(key)
        stack.append((node, True))
        if isinstance(node, MappingNode):
            for key_node, _ in node.value:
                if isinstance(key_node, ScalarNode):
                    if key_node.tag != _MERGE_TAG:
                        key_node.tag = _STR_TAG
                else:
                    raise _refuse(
                        "",
                        f"The mapping key{_mark(key_node)} is not a plain value;"
                        " OpenAPI documents use string keys.",
                    )
        for child in _children(node):
            child_key = id(child)
            if child_key in in_progress:
                raise _refuse("", f"The YAML has an alias that contains itself{_mark(child)}.")
            if child_key not in size:
                stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _yaml_duplicate_keys(root: Node) -> list[DocProblem]:
    """Each key given again in the same mapping, with its pointer and line (after
    :func:`_measure_nodes`: every key is a string scalar). A merge (``<<``) may override keys; a
    mapping reached through aliases is checked once, where it is first written. In the order of
    the document."""
    found: list[tuple[int, int, DocProblem]] = []  # (line, column, problem)
    visited: set[int] = set()
    # (node, parts, whether it is the value of a merge key)
    stack: list[tuple[Node, tuple[str | int, ...], bool]] = [(root, (), False)]
    while stack:
        node, parts, merged = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        children: list[tuple[Node, tuple[str | int, ...], bool]] = []
        if isinstance(node, MappingNode):
            lines: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    children.append((value_node, parts, True))
                    continue
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in lines:
                    problem = _duplicate_key((*parts, key), key, lines[key], line)
                    found.append((line, key_node.start_mark.column, problem))
                else:
                    lines[key] = line
                children.append((value_node, (*parts, key), False))
        elif isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                children.append((child, parts if merged else (*parts, index), False))
        stack.extend(reversed(children))
    return [problem for _, _, problem in sorted(found, key=lambda f: f[:2])]


def _load_yaml(text: str, max_depth: int, max_nodes: int) -> tuple[Any, list[DocProblem]]:
    """The YAML's values, and a problem for each key given twice in a mapping."""
    try:
        if not _LIBYAML:
            _check_event_depth(text, max_depth)
        loader = _SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, []
            _measure_nodes(node, max_depth, max_nodes)
            duplicates = _yaml_duplicate_keys(node)
            return loader.construct_document(node), duplicates
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, max_depth) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise _refuse("", f"The YAML has a value that cannot be read: {exc}.") from None


# --- normalising --------------------------------------------------------------------------------


def _normalise(data: Any, max_depth: int, max_nodes: int) -> Any:
    """A fresh tree of JSON values (aliased parts copied); checks depth and size once more."""
    problems: list[DocProblem] = []
    count = 0

    def convert(value: Any, parts: tuple[str | int, ...]) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                problems.append(
                    DocProblem(
                        pointer(parts),
                        f"The value {value} is not a finite number; JSON cannot represent it.",
                    )
                )
            return value
        if isinstance(value, (dt.date, dt.datetime)):  # datetime is a date
            return value.isoformat()
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        return value  # containers are handled by the caller

    root_holder: list[Any] = [None]
    # (source, target container, key in target, path parts, depth)
    stack: list[tuple[Any, Any, Any, tuple[str | int, ...], int]] = [(data, root_holder, 0, (), 1)]
    while stack:
        source, target, slot, parts, level = stack.pop()
        count += 1
        if count > max_nodes:
            raise _too_many(max_nodes)
        if isinstance(source, dict):
            if level > max_depth:
                raise _too_deep(max_depth)
            mapping: dict[str, Any] = {}
            target[slot] = mapping
            for key, value in source.items():
                name = key if isinstance(key, str) else _key_text(key)
                mapping[name] = None
                stack.append((value, mapping, name, (*parts, name), level + 1))
        elif isinstance(source, (list, tuple, set, frozenset)):
            if level > max_depth:
                raise _too_deep(max_depth)
            items = (
                sorted(source, key=repr) if isinstance(source, (set, frozenset)) else list(source)
            )
            sequence: list[Any] = [None] * len(items)
            target[slot] = sequence
            for index, value in enumerate(items):
                stack.append((value, sequence, index, (*parts, index), level + 1))
        else:
            target[slot] = convert(source, parts)
    if problems:
        raise DocumentRefused(problems)
    return root_holder[0]


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (dt.date, dt.datetime)):
        return key.isoformat()
    return str(key)


# --- versions -----------------------------------------------------------------------------------


def check_version(document: dict[str, Any]) -> tuple[OpenAPIVersion | None, list[DocProblem]]:
    """The document's OpenAPI version ("3.0" or "3.1"), or the problem that prevents knowing it."""
    if "openapi" not in document:
        if "swagger" in document:
            return None, [
                DocProblem(
                    "/swagger",
                    "Swagger 2.0 is not supported; convert the document to OpenAPI 3 (for example"
                    " with swagger2openapi or the Swagger Editor) and submit it again.",
                )
            ]
        return None, [
            DocProblem(
                "",
                "The document has no openapi field; it must state its OpenAPI version,"
                ' such as "3.0.3" or "3.1.0".',
            )
        ]
    value = document["openapi"]
    if not isinstance(value, str):
        shown = json.dumps(value) if isinstance(value, (int, float, bool)) else type(value).__name__
        return None, [
            DocProblem(
                "/openapi",
                f'The openapi field must be a string such as "3.1.0", not {shown}'
                " (in YAML, quote it).",
            )
        ]
    match = _VERSION.match(value)
    if match is None:
        return None, [
            DocProblem(
                "/openapi",
                f"OpenAPI {value[:40]} is not supported; the gateway takes OpenAPI 3.0.x and"
                " 3.1.x.",
            )
        ]
    return ("3.0" if match.group(1) == "0" else "3.1"), []


# --- entry point --------------------------------------------------------------------------------


def parse_document(
    raw: bytes,
    *,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> dict[str, Any]:
    """Parse an OpenAPI 3.0/3.1 document (JSON or YAML) into plain JSON values.

    The format follows ``content_type`` when it names JSON or YAML; otherwise a document whose
    first non-blank character is ``{`` is read as JSON (then as YAML if that fails), anything else
    as YAML. Raises :class:`DocumentRefused` with every reason found.
    """
    if len(raw) > max_bytes:
        raise _refuse("", f"The document is {len(raw):,} bytes; the limit is {max_bytes:,} bytes.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(
            "",
            f"The document is not UTF-8 text: the byte 0x{raw[exc.start]:02x} at offset"
            f" {exc.start} cannot be decoded.",
        ) from None
    text = text.removeprefix("\ufeff")

    declared = _format_for(content_type)
    if declared == "json":
        data, duplicates = _load_json(text, max_depth)
    elif declared == "yaml":
        data, duplicates = _load_yaml(text, max_depth, max_nodes)
    elif text.lstrip()[:1] == "{":
        try:
            data, duplicates = _load_json(text, max_depth)
        except DocumentRefused as json_refusal:
            try:
                data, duplicates = _load_yaml(text, max_depth, max_nodes)
            except DocumentRefused:
                raise json_refusal from None
    else:
        data, duplicates = _load_yaml(text, max_depth, max_nodes)

    if data is None:
        raise _refuse("", "The document is empty.")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise _refuse("", f"The top level of the document must be a mapping; it is {kind}.")
    try:
        document = _normalise(data, max_depth, max_nodes)
    except DocumentRefused as refused:
        raise DocumentRefused([*duplicates, *refused.problems]) from None
    assert isinstance(document, dict)
    _, problems = check_version(document)
    if duplicates or problems:
        raise DocumentRefused([*duplicates, *problems])
    return document


def document_title(raw: bytes) -> str | None:
    """The document's ``info.title``, or None when it has none (or cannot be read that far).

    ``xyb onboard`` names a service by it. Only what comes before the title is read: as JSON, or
    as a stream of YAML events from libyaml (where present), which never expands an alias nor
    builds a value, so neither a large document (a 3 MB one took the pure-Python loader 9 s) nor
    one built to explode costs anything here; a value before the title nested deeper than
    :data:`DEFAULT_MAX_DEPTH` ends the search. The gateway parses the whole document itself.
    """
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    if text.lstrip()[:1] == "{":
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            info = document.get("info")
            title = info.get("title") if isinstance(info, dict) else None
            return _title(title) if isinstance(title, str) else None
    return _yaml_title(text)


def _title(text: str) -> str | None:
    return text.strip() or None


_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _TooDeep(Exception):
    """A value before the title is nested deeper than the gateway accepts."""


def _skip(event: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Read past the value that starts with ``event`` (iteratively: no recursion).

    A value nested deeper than the gateway's limit ends the search (the gateway refuses such a
    document anyway): the pure-Python scanner slows down with every level it keeps open, and
    libyaml stops at 1,000 levels, so both loaders give up at the same place.
    """
    depth = 1 if isinstance(event, _START) else 0
    while depth:
        following = next(events)
        if isinstance(following, _START):
            depth += 1
            if depth > DEFAULT_MAX_DEPTH:
                raise _TooDeep
        elif isinstance(following, _END):
            depth -= 1


def _mapping_value(events: Iterator[yaml.Event], wanted: str) -> yaml.Event | None:
    """In a mapping whose start was just read: the first event of ``wanted``'s value, or None."""
    while True:
        key = next(events)
        if not isinstance(key, yaml.ScalarEvent):
            return None  # the end of the mapping, or a key that is no plain text
        value = next(events)
        if key.value == wanted:
            return value
        _skip(value, events)


def _yaml_title(text: str) -> str | None:
    events = iter(yaml.parse(text, Loader=_SafeLoader))
    try:
        for expected in (yaml.StreamStartEvent, yaml.DocumentStartEvent, yaml.MappingStartEvent):
            if not isinstance(next(events), expected):
                return None
        info = _mapping_value(events, "info")
        if not isinstance(info, yaml.MappingStartEvent):
            return None
        title = _mapping_value(events, "title")
        return _title(title.value) if isinstance(title, yaml.ScalarEvent) else None
    except (yaml.YAMLError, StopIteration, _TooDeep):
        return None
