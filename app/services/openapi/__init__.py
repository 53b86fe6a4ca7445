"""OpenAPI handling for onboarding, without I/O: parse, analyse, validate requests, merge.

- :func:`parse_document` — bytes (JSON or YAML) to a plain document, within limits, or
  :class:`DocumentRefused`.
- :func:`analyse` — every problem (with a JSON pointer) and warning at once, the operations exposed.
- :func:`compile_validator` — a :class:`RequestValidator` per operation, compiled once.
- :func:`merge_documents` / :func:`service_document` — the gateway-facing OpenAPI 3.1 documents.

Names are imported on first use (PEP 562): ``import app.services.openapi.parsing`` alone (the
CLI's ``xyb onboard`` reads a title with it) does not load jsonschema and the spec validator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.services.openapi.analysis import (
        MAX_PROBLEMS,
        Analysis,
        MediaTypeSpec,
        OperationSpec,
        ParameterLocation,
        ParameterSpec,
        RequestBodySpec,
        analyse,
        generated_operation_id,
    )
    from app.services.openapi.mediatypes import BodyKind, body_kind, match_media_type, media_type_of
    from app.services.openapi.merge import MergeInput, merge_documents, service_document
    from app.services.openapi.parsing import (
        DEFAULT_MAX_BYTES,
        DEFAULT_MAX_DEPTH,
        DEFAULT_MAX_NODES,
        OpenAPIVersion,
        check_version,
        parse_document,
    )
    from app.services.openapi.problems import DocProblem, DocumentRefused, pointer
    from app.services.openapi.validation import (
        MAX_REQUEST_ERRORS,
        ErrorKind,
        FieldError,
        RequestValidator,
        compile_validator,
        compile_validators,
        error_status,
    )

_MODULES: dict[str, str] = {
    "MAX_PROBLEMS": "analysis",
    "Analysis": "analysis",
    "MediaTypeSpec": "analysis",
    "OperationSpec": "analysis",
    "ParameterLocation": "analysis",
    "ParameterSpec": "analysis",
    "RequestBodySpec": "analysis",
    "analyse": "analysis",
    "generated_operation_id": "analysis",
    "BodyKind": "mediatypes",
    "body_kind": "mediatypes",
    "match_media_type": "mediatypes",
    "media_type_of": "mediatypes",
    "MergeInput": "merge",
    "merge_documents": "merge",
    "service_document": "merge",
    "DEFAULT_MAX_BYTES": "parsing",
    "DEFAULT_MAX_DEPTH": "parsing",
    "DEFAULT_MAX_NODES": "parsing",
    "OpenAPIVersion": "parsing",
    "check_version": "parsing",
    "parse_document": "parsing",
    "DocProblem": "problems",
    "DocumentRefused": "problems",
    "pointer": "problems",
    "MAX_REQUEST_ERRORS": "validation",
    "ErrorKind": "validation",
    "FieldError": "validation",
    "RequestValidator": "validation",
    "compile_validator": "validation",
    "compile_validators": "validation",
    "error_status": "validation",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "MAX_PROBLEMS",
    "MAX_REQUEST_ERRORS",
    "Analysis",
    "BodyKind",
    "DocProblem",
    "DocumentRefused",
    "ErrorKind",
    "FieldError",
    "MediaTypeSpec",
    "MergeInput",
    "OpenAPIVersion",
    "OperationSpec",
    "ParameterLocation",
    "ParameterSpec",
    "RequestBodySpec",
    "RequestValidator",
    "analyse",
    "body_kind",
    "check_version",
    "compile_validator",
    "compile_validators",
    "error_status",
    "generated_operation_id",
    "match_media_type",
    "media_type_of",
    "merge_documents",
    "parse_document",
    "pointer",
    "service_document",
]
