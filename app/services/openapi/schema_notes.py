"""Schemas that are valid but say something other than their author most likely meant: warnings.

Each names what the gateway will do, so a developer learns it at onboarding rather than from a
refused request:

- ``nullable`` in an OpenAPI 3.1 document: not a keyword there (3.1 schemas are JSON Schema
  2020-12), so it changes nothing and null is refused; ``type: [string, "null"]`` says it.
- ``nullable: true`` beside an ``enum`` without null in OpenAPI 3.0: 3.0.3 says ``nullable`` adds
  null to the ``type`` only, so the enum still refuses it. The gateway reads it so when validating
  and when publishing the document as 3.1 (``type: [string, "null"]``, the enum as written).
- An empty ``enum`` (3.1; 3.0's meta-schema refuses one): no value fits.
"""

from __future__ import annotations

from typing import Any

from app.services.openapi.parsing import OpenAPIVersion
from app.services.openapi.problems import DocProblem, pointer
from app.services.openapi.refs import iter_objects

__all__ = ["MAX_PER_KIND", "schema_warnings"]

MAX_PER_KIND = 20


def _type_text(node: dict[str, Any]) -> str:
    declared = node.get("type")
    return declared if isinstance(declared, str) else "string"


def schema_warnings(document: Any, version: OpenAPIVersion) -> list[DocProblem]:
    """The warnings above, at most :data:`MAX_PER_KIND` of each kind and a count of the rest."""
    found: dict[str, list[DocProblem]] = {"nullable": [], "enum-null": [], "enum-empty": []}
    for node, parts in iter_objects(document):
        enum = node.get("enum")
        if version == "3.1" and "nullable" in node:
            found["nullable"].append(
                DocProblem(
                    pointer((*parts, "nullable")),
                    "nullable is not a keyword of OpenAPI 3.1 and changes nothing: null is"
                    f' refused here. Write type: [{_type_text(node)}, "null"] to allow it.',
                )
            )
        if (
            version == "3.0"
            and node.get("nullable") is True
            and isinstance(node.get("type"), str)
            and isinstance(enum, list)
            and None not in enum
        ):
            found["enum-null"].append(
                DocProblem(
                    pointer((*parts, "enum")),
                    "nullable: true does not add null to an enum (OpenAPI 3.0.3): null is refused"
                    " here. Add null to the enum to allow it.",
                )
            )
        if isinstance(enum, list) and not enum:
            found["enum-empty"].append(
                DocProblem(
                    pointer((*parts, "enum")),
                    "The enum is empty, so no value fits: a request that sends this value is"
                    " always refused.",
                )
            )
    warnings: list[DocProblem] = []
    for kind in found.values():
        warnings.extend(kind[:MAX_PER_KIND])
        rest = len(kind) - MAX_PER_KIND
        if rest > 0:
            warnings.append(
                DocProblem(
                    "", f"… and {rest} more schema{'s' if rest != 1 else ''} like the one above."
                )
            )
    return warnings
