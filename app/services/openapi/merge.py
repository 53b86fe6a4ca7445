"""One OpenAPI 3.1 document of everything reachable through the gateway.

Each service's operations appear under ``/gw/{division}/{slug}``; the gateway is the only server.
Names that services choose independently are made unique: component names get the prefix
``c{division}_{slug}_`` and operationIds become ``gw{division}_{slug}_{operationId}`` (a letter
first: code generators refuse identifiers that start with a digit), with every
``$ref`` (and discriminator mapping, and link) rewritten to match. OpenAPI 3.0 schemas are converted
to 3.1 (``nullable`` becomes a ``"null"`` type, boolean ``exclusiveMinimum``/``exclusiveMaximum``
become numbers). The services' own servers, security requirements and security schemes are
dropped: callers authenticate to the gateway, which calls the services itself.
:func:`drop_unused_components` removes the components no operation reaches; the documents the
gateway serves go through it (``app.gateway.openapi_doc``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.openapi.analysis import HTTP_METHODS, OperationSpec
from app.services.openapi.parsing import check_version
from app.services.openapi.problems import fragment_parts, pointer, resolve_pointer
from app.services.openapi.refs import NAME_MAPS

__all__ = [
    "COMPONENT_SECTIONS",
    "MergeInput",
    "drop_unused_components",
    "merge_documents",
    "service_document",
]

COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
    "pathItems",
)
_DATA_KEYS = frozenset({"example", "default", "enum", "const"})
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_SCHEMA_MAPS = ("properties", "patternProperties")
_PATH_ITEM_FIELDS = ("summary", "description", "parameters")


@dataclass(frozen=True, slots=True)
class MergeInput:
    """One onboarded service: where it is routed, its document and the operations exposed."""

    division: str
    slug: str
    name: str
    document: Mapping[str, Any]
    operations: Sequence[OperationSpec]

    @property
    def prefix(self) -> str:
        return f"/gw/{self.division}/{self.slug}"

    @property
    def tag(self) -> str:
        return f"{self.division}/{self.slug}"


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _component_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


class _Service:
    """Rewrites one service's document into the merged one."""

    def __init__(self, service: MergeInput, *, namespace: bool, taken_ids: set[str]) -> None:
        self.service = service
        self.document = service.document
        version, _ = check_version(dict(service.document))
        self.from_30 = version == "3.0"
        self.namespace = namespace
        components = self.document.get("components")
        self.components: Mapping[str, Any] = components if isinstance(components, dict) else {}
        self.renames: dict[tuple[str, str], str] = {}
        prefix = _component_name(f"c{service.division}_{service.slug}_") if namespace else ""
        for section in COMPONENT_SECTIONS:
            entries = self.components.get(section)
            if isinstance(entries, dict):
                for name in entries:
                    self.renames[(section, name)] = prefix + _component_name(str(name))
        self.operation_ids: dict[str, str] = {}
        for op in service.operations:
            base = (
                _identifier(f"gw{service.division}_{service.slug}_{op.operation_id}")
                if namespace
                else op.operation_id
            )
            self.operation_ids[op.operation_id] = _unique(base, taken_ids)
        self._inlining: list[str] = []

    # -- references ------------------------------------------------------------------------------

    def ref(self, ref: str) -> str | None:
        """The rewritten reference, or None when its target must be copied in place instead."""
        if not ref.startswith("#/components/"):
            return None
        try:
            parts = fragment_parts(ref[1:])
        except ValueError:
            return None
        if len(parts) < 3 or (parts[1], parts[2]) not in self.renames:
            return None
        return "#" + pointer(
            ["components", parts[1], self.renames[(parts[1], parts[2])], *parts[3:]]
        )

    def inline(self, ref: str) -> Any:
        """A copy of a local reference's target, for targets outside components."""
        if ref in self._inlining or len(self._inlining) > 32 or not ref.startswith("#"):
            return {}
        try:
            target = resolve_pointer(self.document, fragment_parts(ref[1:]))
        except (LookupError, ValueError):
            return {}
        self._inlining.append(ref)
        try:
            return self.copy(target)
        finally:
            self._inlining.pop()

    # -- copying ---------------------------------------------------------------------------------

    def copy(self, node: Any, *, names: bool = False, parent: str | None = None) -> Any:
        """A rewritten deep copy: references, discriminator mappings, links; data kept as is."""
        if isinstance(node, list):
            return [self.copy(item) for item in node]
        if not isinstance(node, dict):
            return node
        if not names and isinstance(node.get("$ref"), str):
            rewritten = self.ref(node["$ref"])
            if rewritten is None:
                return self.inline(node["$ref"])
            result: dict[str, Any] = {"$ref": rewritten}
            for key, value in node.items():
                if key != "$ref":
                    result[key] = self.copy(value)
            return result
        result = {}
        for key, value in node.items():
            if (
                (not names and (key in _DATA_KEYS or key.startswith("x-")))
                or (not names and key == "examples" and isinstance(value, list))
                or (not names and key == "value" and parent == "examples")
            ):
                result[key] = copy.deepcopy(value)
            elif not names and key == "discriminator" and isinstance(value, dict):
                result[key] = self.discriminator(value)
            elif not names and key == "operationId" and parent == "links":
                result[key] = self.operation_ids.get(str(value), value)
            else:
                is_map = not names and key in _NAME_MAPS
                result[key] = self.copy(value, names=is_map, parent=key if is_map else parent)
        return result

    def discriminator(self, value: dict[str, Any]) -> dict[str, Any]:
        result = copy.deepcopy(value)
        mapping = result.get("mapping")
        if isinstance(mapping, dict):
            for key, target in list(mapping.items()):
                if not isinstance(target, str):
                    continue
                if target.startswith("#"):
                    mapping[key] = self.ref(target) or target
                elif ("schemas", target) in self.renames:
                    mapping[key] = "#" + pointer(
                        ["components", "schemas", self.renames[("schemas", target)]]
                    )
        return result

    # -- 3.0 to 3.1 ------------------------------------------------------------------------------

    def convert_schema(self, schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:  # OpenAPI 3.0 ignores a reference's siblings; 3.1 would apply them
            for key in [k for k in schema if k not in ("$ref", "description", "summary")]:
                del schema[key]
            return
        if schema.pop("nullable", None) is True:
            declared = schema.get("type")
            if isinstance(declared, str):
                # OpenAPI 3.0.3: nullable adds null to the type only; an enum without null
                # still refuses it, as request validation does. So the enum stays as written.
                schema["type"] = [declared, "null"]
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            flag = schema.get(exclusive)
            if flag is True and bound in schema:
                schema[exclusive] = schema.pop(bound)
            elif isinstance(flag, bool):
                del schema[exclusive]
        for key in _SCHEMA_MAPS:
            members = schema.get(key)
            if isinstance(members, dict):
                for sub in members.values():
                    self.convert_schema(sub)
        for key in _SCHEMA_ONE:
            self.convert_schema(schema.get(key))
        for key in _SCHEMA_LISTS:
            members = schema.get(key)
            if isinstance(members, list):
                for sub in members:
                    self.convert_schema(sub)

    def convert_schemas_in(
        self, node: Any, *, names: bool = False, parent: str | None = None
    ) -> None:
        """Convert every schema found in a (copied) non-schema part of a 3.0 document."""
        if isinstance(node, list):
            for item in node:
                self.convert_schemas_in(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if names:
                self.convert_schemas_in(value, parent=parent)
            elif key == "schema":
                self.convert_schema(value)
            elif (
                key in _DATA_KEYS
                or key.startswith("x-")
                or (key == "value" and parent == "examples")
            ):
                continue
            else:
                is_map = key in _NAME_MAPS
                self.convert_schemas_in(value, names=is_map, parent=key if is_map else parent)

    # -- the parts of the merged document --------------------------------------------------------

    def components_out(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for section in COMPONENT_SECTIONS:
            entries = self.components.get(section)
            if not isinstance(entries, dict):
                continue
            for name, entry in entries.items():
                copied = self.copy(entry, parent=section)
                if self.from_30:
                    if section == "schemas":
                        self.convert_schema(copied)
                    else:
                        self.convert_schemas_in(copied, parent=section)
                out.setdefault(section, {})[self.renames[(section, name)]] = copied
        return out

    def paths_out(self) -> dict[str, dict[str, Any]]:
        paths_in = self.document.get("paths")
        paths_in = paths_in if isinstance(paths_in, dict) else {}
        by_path: dict[str, list[OperationSpec]] = {}
        for op in self.service.operations:
            by_path.setdefault(op.path, []).append(op)
        out: dict[str, dict[str, Any]] = {}
        for path, operations in by_path.items():
            item = paths_in.get(path)
            if isinstance(item, dict) and isinstance(item.get("$ref"), str):
                try:
                    item = resolve_pointer(self.document, fragment_parts(item["$ref"][1:]))
                except (LookupError, ValueError):
                    item = None
            if not isinstance(item, dict):
                continue
            new_item: dict[str, Any] = {}
            for key in _PATH_ITEM_FIELDS:
                if key in item:
                    new_item[key] = self.copy(item[key], parent="paths")
            for key, value in item.items():
                if key.startswith("x-"):
                    new_item[key] = copy.deepcopy(value)
            for op in operations:
                method = op.method.lower()
                source = item.get(method)
                if method not in HTTP_METHODS or not isinstance(source, dict):
                    continue
                operation = self.copy(source)
                operation.pop("security", None)
                operation.pop("servers", None)
                operation["operationId"] = self.operation_ids[op.operation_id]
                operation["tags"] = [self.service.tag]
                new_item[method] = operation
            if self.from_30:
                self.convert_schemas_in(new_item)
            out[self.service.prefix + path] = new_item
        return out

    def tag_out(self) -> dict[str, Any]:
        info = self.document.get("info")
        title = info.get("title") if isinstance(info, dict) else None
        description = self.service.name
        if isinstance(title, str) and title and title != self.service.name:
            description = f"{self.service.name} — {title}"
        return {"name": self.service.tag, "description": description}


# Discriminator mappings name schemas too; webhooks are dropped before this matters.
_NAME_MAPS = NAME_MAPS | {"mapping"}


def _merge(
    services: Sequence[MergeInput],
    *,
    title: str,
    server_url: str,
    version: str,
    description: str | None,
    namespace: bool,
) -> dict[str, Any]:
    seen: set[tuple[str, str]] = set()
    for service in services:
        key = (service.division, service.slug)
        if key in seen:
            raise ValueError(f"service {service.division}/{service.slug} is given twice")
        seen.add(key)
    taken_ids: set[str] = set()
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, Any]] = []
    for service in sorted(services, key=lambda s: (s.division, s.slug)):
        rewriter = _Service(service, namespace=namespace, taken_ids=taken_ids)
        for section, entries in rewriter.components_out().items():
            components.setdefault(section, {}).update(entries)
        paths.update(rewriter.paths_out())
        tags.append(rewriter.tag_out())
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": server_url}],
        "tags": tags,
        "paths": paths,
    }
    if components:
        document["components"] = {s: components[s] for s in COMPONENT_SECTIONS if s in components}
    return document


def _component_refs(node: Any) -> Iterator[tuple[str, str]]:
    """(section, name) of every ``#/components/...`` reference under ``node``, discriminator
    mappings included (data such as examples may name some too: kept then, never lost)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
            continue
        if not isinstance(current, dict):
            continue
        for value in current.values():
            if not isinstance(value, str):
                stack.append(value)
            elif value.startswith("#/components/"):
                try:
                    parts = fragment_parts(value[1:])
                except ValueError:
                    continue
                if len(parts) >= 3:
                    yield parts[1], parts[2]


def drop_unused_components(document: dict[str, Any]) -> None:
    """Remove the components that nothing outside ``components`` reaches, in place.

    Security schemes stay: requirements name them, not references.
    """
    components = document.get("components")
    if not isinstance(components, dict):
        return
    reached: set[tuple[str, str]] = set()
    pending: list[Any] = [value for key, value in document.items() if key != "components"]
    while pending:
        for section, name in _component_refs(pending.pop()):
            entries = components.get(section)
            if (section, name) in reached or not isinstance(entries, dict) or name not in entries:
                continue
            reached.add((section, name))
            pending.append(entries[name])
    for section in COMPONENT_SECTIONS:
        entries = components.get(section)
        if not isinstance(entries, dict):
            continue
        for name in [n for n in entries if (section, n) not in reached]:
            del entries[name]
        if not entries:
            del components[section]
    if not components:
        del document["components"]


def merge_documents(
    services: Sequence[MergeInput],
    *,
    title: str,
    server_url: str,
    version: str = "1.0.0",
    description: str | None = None,
) -> dict[str, Any]:
    """One OpenAPI 3.1 document of every service's exposed operations, as the gateway serves them.

    Documents are expected to be analysed without problems (every ``$ref`` local and resolvable).
    """
    return _merge(
        services,
        title=title,
        server_url=server_url,
        version=version,
        description=description,
        namespace=True,
    )


def service_document(service: MergeInput, server_url: str) -> dict[str, Any]:
    """One service's document as the gateway serves it: same names, gateway paths and server."""
    info = service.document.get("info")
    info = info if isinstance(info, dict) else {}
    version = info.get("version")
    description = info.get("description")
    return _merge(
        [service],
        title=service.name,
        server_url=server_url,
        version=version if isinstance(version, str) else "1.0.0",
        description=description if isinstance(description, str) else None,
        namespace=False,
    )
