"""Breaking changes: would a new version of a provider's document break a recorded contract?

For every operation an interaction uses, comparing the old document with the new one:

- the operation is gone, or its operationId now names another method or path;
- the expected status is no longer documented, or no longer with a JSON body;
- a field the expected body relies on (every key in its matcher tree, through arrays by their
  element matchers) was declared and no longer is, or no longer admits the type the contract
  expects there (integer → number is not a break: a number schema admits integers);
- a request parameter, request body or body field (top level, and inside the objects the request
  sends) is required now and was not before, and the interaction's request does not send it.

Each break is one sentence naming the operation, the status and the field, with a JSON pointer
into the new document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.contracts.matchers import is_matcher, json_path, json_type_of
from app.contracts.model import Contract, Interaction
from app.contracts.static import (
    documented_status,
    follow_ref,
    json_media_type,
    operation_label,
    resolve_operation,
    response_media,
)
from app.core.safe_regex import search as pattern_search
from app.services.openapi import Analysis, OperationSpec, analyse, match_media_type
from app.services.openapi.problems import escape_token

__all__ = ["Break", "find_breaks"]

Parts = tuple[str | int, ...]
Types = frozenset[str] | None  # None: any type
_ALL_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_EACH = "[*]"
_MAX_BRANCHES = 64


@dataclass(frozen=True, slots=True)
class Break:
    """One way a new document breaks an interaction: its id, the operation as the contract names
    it, one sentence, and a JSON pointer into the new document."""

    interaction: str | None
    operation: str
    message: str
    pointer: str


def _pointer(parts: Parts) -> str:
    return "".join("/" + escape_token(p) for p in parts)


# --- schemas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Schema:
    node: Any
    parts: Parts


class _Schemas:
    """Reading a document's schemas: references followed, allOf/oneOf/anyOf looked through."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def follow(self, node: Any, parts: Parts) -> _Schema | None:
        followed = follow_ref(self.document, node, parts)
        if followed is None:
            return None
        return _Schema(followed[0], followed[1])

    def branches(self, schema: _Schema) -> list[_Schema]:
        """The schema and every schema combined into it (allOf, anyOf, oneOf), references
        followed."""
        found: list[_Schema] = []
        seen: set[Parts] = set()
        stack = [schema]
        while stack and len(found) < _MAX_BRANCHES:
            current = stack.pop()
            if current.parts in seen or not isinstance(current.node, dict):
                continue
            seen.add(current.parts)
            found.append(current)
            for keyword in ("allOf", "anyOf", "oneOf"):
                members = current.node.get(keyword)
                if isinstance(members, list):
                    for index in reversed(range(len(members))):
                        member = self.follow(members[index], (*current.parts, keyword, index))
                        if member is not None:
                            stack.append(member)
        return found

    def child(self, schema: _Schema, step: str | int) -> list[_Schema] | None:
        """The schemas declaring a key (or, for an index or ``[*]``, an array's items); None when
        the key is not declared."""
        found: list[_Schema] = []
        branches = self.branches(schema)
        if isinstance(step, str) and step != _EACH:
            for branch in branches:
                properties = branch.node.get("properties")
                if isinstance(properties, dict) and step in properties:
                    child = self.follow(properties[step], (*branch.parts, "properties", step))
                    if child is not None:
                        found.append(child)
            if found:
                return found
            for branch in branches:
                patterns = branch.node.get("patternProperties")
                if isinstance(patterns, dict):
                    for pattern, sub in patterns.items():
                        if pattern_search(pattern, step):
                            child = self.follow(sub, (*branch.parts, "patternProperties", pattern))
                            if child is not None:
                                found.append(child)
                additional = branch.node.get("additionalProperties")
                if isinstance(additional, dict) or additional is True:
                    child = self.follow(
                        additional if isinstance(additional, dict) else {},
                        (*branch.parts, "additionalProperties"),
                    )
                    if child is not None:
                        found.append(child)
            return found or None
        for branch in branches:
            prefix = branch.node.get("prefixItems")
            if isinstance(step, int) and isinstance(prefix, list) and step < len(prefix):
                child = self.follow(prefix[step], (*branch.parts, "prefixItems", step))
                if child is not None:
                    found.append(child)
                continue
            items = branch.node.get("items")
            if isinstance(items, dict):
                child = self.follow(items, (*branch.parts, "items"))
                if child is not None:
                    found.append(child)
        return found or None

    def declaring(self, schema: _Schema) -> Parts:
        """Where a schema declares its properties (or items): the place a field went missing."""
        for branch in self.branches(schema):
            for keyword in ("properties", "items"):
                if keyword in branch.node:
                    return (*branch.parts, keyword)
        return schema.parts

    def types(self, schema: _Schema, depth: int = 0) -> Types:
        """The JSON types a schema admits (None: any)."""
        node = schema.node
        if not isinstance(node, dict) or depth > 32:
            return None
        own: Types = None
        declared = node.get("type")
        if isinstance(declared, str):
            own = frozenset({declared})
        elif isinstance(declared, list):
            own = frozenset(str(t) for t in declared)
        elif "enum" in node and isinstance(node["enum"], list):
            own = frozenset(json_type_of(v) for v in node["enum"])
        elif "const" in node:
            own = frozenset({json_type_of(node["const"])})
        if own is not None and node.get("nullable") is True:
            own = own | {"null"}
        result = own
        members = node.get("allOf")
        if isinstance(members, list):
            for index, member in enumerate(members):
                followed = self.follow(member, (*schema.parts, "allOf", index))
                if followed is not None:
                    result = _intersect(result, self.types(followed, depth + 1))
        for keyword in ("anyOf", "oneOf"):
            members = node.get(keyword)
            if isinstance(members, list) and members:
                union: set[str] = set()
                unconstrained = False
                for index, member in enumerate(members):
                    followed = self.follow(member, (*schema.parts, keyword, index))
                    kinds = self.types(followed, depth + 1) if followed is not None else None
                    if kinds is None:
                        unconstrained = True
                    else:
                        union |= kinds
                if not unconstrained:
                    result = _intersect(result, frozenset(union))
        return result

    def required(self, schema: _Schema) -> dict[str, Parts]:
        """Property names required by the schema or its allOf members, with where each is
        required."""
        found: dict[str, Parts] = {}
        for branch in self._all_of(schema):
            names = branch.node.get("required")
            if isinstance(names, list):
                for name in names:
                    if isinstance(name, str):
                        found.setdefault(name, (*branch.parts, "required"))
        return found

    def _all_of(self, schema: _Schema) -> list[_Schema]:
        found: list[_Schema] = []
        stack = [schema]
        seen: set[Parts] = set()
        while stack and len(found) < _MAX_BRANCHES:
            current = stack.pop()
            if current.parts in seen or not isinstance(current.node, dict):
                continue
            seen.add(current.parts)
            found.append(current)
            members = current.node.get("allOf")
            if isinstance(members, list):
                for index, member in enumerate(members):
                    followed = self.follow(member, (*current.parts, "allOf", index))
                    if followed is not None:
                        stack.append(followed)
        return found


def _intersect(left: Types, right: Types) -> Types:
    if left is None:
        return right
    if right is None:
        return left
    joined = set(left & right)
    if ("integer" in left and "number" in right) or ("integer" in right and "number" in left):
        joined.add("integer")
    return frozenset(joined)


def _admits(types: Types, kind: str) -> bool:
    if types is None:
        return True
    return kind in types or (kind == "integer" and "number" in types)


def _show_types(types: Types) -> str:
    if types is None:
        return "any type"
    ordered = [t for t in _ALL_TYPES if t in types] + sorted(
        t for t in types if t not in _ALL_TYPES
    )
    return " or ".join(ordered) if ordered else "no type"


# --- what the contract relies on ----------------------------------------------------------------


def _expected_types(node: Any) -> set[str]:
    if is_matcher(node):
        if "$type" in node:
            return {str(node["$type"])}
        if "$regex" in node:
            return {"string"}
        if "$anyOf" in node:
            kinds: set[str] = set()
            for option in node["$anyOf"]:
                kinds |= _expected_types(option)
            return kinds
        return {"array"}
    return {json_type_of(node)}


def _field_paths(node: Any, path: Parts, found: dict[Parts, list[Any]]) -> None:
    """Every key path of a matcher tree (arrays entered through their element matchers), with the
    expected values at it."""
    if is_matcher(node):
        if "$anyOf" in node:
            for option in node["$anyOf"]:
                _field_paths(option, path, found)
        elif "$each" in node:
            _field_paths(node["$each"], (*path, _EACH), found)
        return
    if isinstance(node, dict):
        for key, value in node.items():
            found.setdefault((*path, key), []).append(value)
            _field_paths(value, (*path, key), found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _field_paths(value, (*path, index), found)


def _json_path(path: Parts) -> str:
    shown = "$"
    for step in path:
        shown = f"{shown}[*]" if step == _EACH else json_path(shown, step)
    return shown


# --- comparing ----------------------------------------------------------------------------------


class _Comparison:
    def __init__(
        self,
        old_document: Mapping[str, Any],
        new_document: Mapping[str, Any],
        old: Analysis,
        new: Analysis,
    ) -> None:
        self.old_document = old_document
        self.new_document = new_document
        self.old_analysis = old
        self.new_analysis = new
        self.old = _Schemas(old_document)
        self.new = _Schemas(new_document)

    def interaction(self, interaction: Interaction) -> Iterator[Break]:
        ref = interaction.operation

        def make(message: str, pointer: Parts) -> Break:
            return Break(interaction.id, ref, message, _pointer(pointer))

        old_op = resolve_operation(self.old_analysis, ref)
        new_op = resolve_operation(self.new_analysis, ref)
        if old_op is None:
            return  # the contract did not fit the old document either: not a change
        if new_op is None:
            paths = self.new_document.get("paths")
            where: Parts = ("paths",)
            if isinstance(paths, dict) and old_op.path in paths:
                where = ("paths", old_op.path)
            yield make(f"{operation_label(old_op)} was removed from the document.", where)
            return
        if (old_op.method, old_op.path) != (new_op.method, new_op.path):
            yield make(
                f"{old_op.operation_id} was {old_op.method} {old_op.path}, is now"
                f" {new_op.method} {new_op.path}.",
                _parts_of(new_op.pointer),
            )
            return
        yield from self.response(interaction, old_op, new_op, make)
        yield from self.request(interaction, old_op, new_op, make)

    # -- responses -------------------------------------------------------------------------------

    def response(
        self, interaction: Interaction, old_op: OperationSpec, new_op: OperationSpec, make: Any
    ) -> Iterator[Break]:
        expected = interaction.response
        label = operation_label(new_op)
        status = expected.status
        old_code = documented_status(old_op.responses, status)
        if old_code is None:
            return
        new_code = documented_status(new_op.responses, status)
        if new_code is None:
            yield make(
                f"{label}, {status}: the status is no longer documented.",
                (*_parts_of(new_op.pointer), "responses"),
            )
            return
        if not expected.has_body:
            return
        old_media = response_media(self.old_document, old_op, old_code)
        new_media = response_media(self.new_document, new_op, new_code)
        if old_media is None or new_media is None:
            return
        old_type = json_media_type(old_media[1])
        if old_type is None or not isinstance(old_media[1][old_type], dict):
            return
        new_type = json_media_type(new_media[1])
        if new_type is None:
            yield make(
                f"{label}, {status}: the response no longer has a JSON body.",
                (*new_media[0], "content") if new_media[1] else new_media[0],
            )
            return
        old_media_object = old_media[1][old_type]
        new_media_object = new_media[1][new_type]
        if "schema" not in old_media_object or not isinstance(new_media_object, dict):
            return
        if "schema" not in new_media_object:
            return  # a body of any shape now: nothing it promised is contradicted
        old_root = self.old.follow(
            old_media_object["schema"], (*old_media[0], "content", old_type, "schema")
        )
        new_root = self.new.follow(
            new_media_object["schema"], (*new_media[0], "content", new_type, "schema")
        )
        if old_root is None or new_root is None:
            return
        yield from self.fields(expected.body, old_root, new_root, f"{label}, {status}", make)

    def fields(
        self, body: Any, old_root: _Schema, new_root: _Schema, prefix: str, make: Any
    ) -> Iterator[Break]:
        paths: dict[Parts, list[Any]] = {}
        _field_paths(body, (), paths)
        resolved_old: dict[Parts, list[_Schema] | None] = {(): [old_root]}
        resolved_new: dict[Parts, list[_Schema] | None] = {(): [new_root]}
        broken: list[Parts] = []

        def resolve(
            schemas: _Schemas, cache: dict[Parts, list[_Schema] | None], path: Parts
        ) -> list[_Schema] | None:
            if path in cache:
                return cache[path]
            parents = resolve(schemas, cache, path[:-1])
            result: list[_Schema] | None = None
            if parents is not None:
                found: list[_Schema] = []
                for parent in parents:
                    children = schemas.child(parent, path[-1])
                    if children:
                        found.extend(children)
                result = found or None
            cache[path] = result
            return result

        for path in sorted(paths, key=len):
            if any(path[: len(b)] == b for b in broken):
                continue
            old_schemas = resolve(self.old, resolved_old, path)
            if old_schemas is None:
                continue  # not declared before either: not a change
            new_schemas = resolve(self.new, resolved_new, path)
            shown = _json_path(path)
            if new_schemas is None:
                broken.append(path)
                where = self.where_removed(old_schemas[0].parts)
                if where is None:
                    parent = resolve(self.new, resolved_new, path[:-1])
                    where = self.new.declaring(parent[0] if parent else new_root)
                yield make(f"{prefix}: {shown} is no longer declared.", where)
                continue
            old_types = _union(self.old.types(s) for s in old_schemas)
            new_types = _union(self.new.types(s) for s in new_schemas)
            kinds: set[str] = set()
            for value in paths[path]:
                kinds |= _expected_types(value)
            if any(_admits(old_types, k) and not _admits(new_types, k) for k in kinds):
                broken.append(path)
                yield make(
                    f"{prefix}: {shown} was {_show_types(old_types)}, is now"
                    f" {_show_types(new_types)}.",
                    new_schemas[0].parts,
                )

    def where_removed(self, old_parts: Parts) -> Parts | None:
        """Where a field was declared (``.../properties``), when that place is still in the new
        document."""
        if len(old_parts) < 2 or old_parts[-2] != "properties":
            return None
        node: Any = self.new_document
        for token in old_parts[:-1]:
            found = (isinstance(node, dict) and token in node) or (
                isinstance(node, list) and isinstance(token, int) and token < len(node)
            )
            if not found:
                return None
            node = node[token]
        return old_parts[:-1] if isinstance(node, dict) else None

    # -- requests --------------------------------------------------------------------------------

    def request(
        self, interaction: Interaction, old_op: OperationSpec, new_op: OperationSpec, make: Any
    ) -> Iterator[Break]:
        request = interaction.request
        label = operation_label(new_op)
        sent_query = {name for name, _ in request.query}
        sent_headers = {name.lower() for name in request.headers}
        for parameter in new_op.parameters:
            if not parameter.required or parameter.location == "path":
                continue
            before = old_op.parameter(parameter.location, parameter.name)
            if before is not None and before.required:
                continue
            if parameter.location == "query" and parameter.name in sent_query:
                continue
            if parameter.location == "header" and parameter.name.lower() in sent_headers:
                continue
            what = "is new and required" if before is None else "is now required"
            yield make(
                f"{label}: the {parameter.location} parameter '{parameter.name}' {what}.",
                _parts_of(parameter.pointer),
            )
        new_body = new_op.request_body
        if new_body is None:
            return
        old_body = old_op.request_body
        if request.body_kind == "none":
            if new_body.required and not (old_body is not None and old_body.required):
                yield make(f"{label}: a request body is now required.", _parts_of(new_body.pointer))
            return
        if request.body_kind not in ("json", "form") or not isinstance(request.body, dict):
            return
        content_type = request.effective_content_type()
        new_media = _body_media(new_op, content_type)
        if new_media is None:
            return
        new_schema = self.new.follow(new_media[1], new_media[0])
        if new_schema is None:
            return
        old_schema: _Schema | None = None
        if old_body is not None:
            old_media = _body_media(old_op, content_type)
            if old_media is not None:
                old_schema = self.old.follow(old_media[1], old_media[0])
        yield from self.required_fields(request.body, old_schema, new_schema, (), label, make)

    def required_fields(
        self,
        sent: Mapping[str, Any],
        old_schema: _Schema | None,
        new_schema: _Schema,
        path: Parts,
        label: str,
        make: Any,
    ) -> Iterator[Break]:
        new_required = self.new.required(new_schema)
        old_required = self.old.required(old_schema) if old_schema is not None else {}
        for name, where in new_required.items():
            if name in old_required or name in sent:
                continue
            yield make(
                f"{label}: the request body field {_json_path((*path, name))} is now required.",
                where,
            )
        for name, value in sent.items():
            if not isinstance(value, dict):
                continue
            new_children = self.new.child(new_schema, name)
            if not new_children:
                continue
            old_children = self.old.child(old_schema, name) if old_schema is not None else None
            yield from self.required_fields(
                value,
                old_children[0] if old_children else None,
                new_children[0],
                (*path, name),
                label,
                make,
            )


def _union(types: Iterator[Types]) -> Types:
    result: set[str] = set()
    for kinds in types:
        if kinds is None:
            return None
        result |= kinds
    return frozenset(result)


def _parts_of(ptr: str) -> Parts:
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")) if ptr else ()


def _body_media(operation: OperationSpec, content_type: str | None) -> tuple[Parts, Any] | None:
    body = operation.request_body
    if body is None:
        return None
    declared = match_media_type(content_type, body.media_types)
    if declared is None:
        return None
    for media in body.content:
        if media.media_type == declared and media.schema_pointer is not None:
            return _parts_of(media.schema_pointer), media.schema
    return None


def find_breaks(
    contract: Contract, old_document: Mapping[str, Any], new_document: Mapping[str, Any]
) -> list[Break]:
    """Every way ``new_document`` breaks what the contract's interactions rely on in
    ``old_document`` (empty: none). Both documents are parsed (:func:`parse_document`) ones."""
    old = analyse(dict(old_document), check_spec=False)
    new = analyse(dict(new_document), check_spec=False)
    comparison = _Comparison(old_document, new_document, old, new)
    breaks: list[Break] = []
    for interaction in contract.interactions:
        for found in comparison.interaction(interaction):
            if found not in breaks:
                breaks.append(found)
    return breaks
