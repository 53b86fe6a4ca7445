"""OpenAPI handling for onboarding, without I/O: parse, analyse, validate requests, merge.

- :func:`parse_document` — bytes (JSON or YAML) to a plain document, within limits, or
  :class:`DocumentRefused`.
- :func:`analyse` — every problem (with a JSON pointer) and warning at once, the operations exposed.
- :func:`compile_validator` — a :class:`RequestValidator` per operation, compiled once.
- :func:`merge_documents` / :func:`service_document` — the gateway-facing OpenAPI 3.1 documents.
"""

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
