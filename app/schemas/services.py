"""Request and response models of the onboarding (admin) API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from app.connectors.headers import HOP_BY_HOP
from app.models.service import DataClassification

SLUG_PATTERN = r"^[a-z0-9-]{2,40}$"


def _text_or_object(value: Any) -> str | dict[str, Any]:
    if isinstance(value, str | dict):
        return value
    raise ValueError("must be the text of a JSON or YAML document, or a JSON object")


# One error at the field itself, not one per union member (/body/document/str, ...).
TextOrObject = Annotated[
    Any,
    AfterValidator(_text_or_object),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "object"}]}),
]


class Binding(BaseModel):
    """Binds one operation to a catalog item, in addition to (or instead of) ``x-xyb-item``."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(
        description="operationId, or 'METHOD /path' as in the document", min_length=1
    )
    item: str = Field(description="the item's code (opaque)", min_length=1, max_length=64)


class UpstreamAuth(BaseModel):
    """A credential the gateway presents to the upstream (stored encrypted, never shown)."""

    model_config = ConfigDict(extra="forbid")

    header: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$", examples=["Authorization"])
    # Visible ASCII with inner spaces: a CR/LF would inject headers into every upstream call.
    value: str = Field(min_length=1, max_length=4096, pattern=r"^[!-~](?:[ -~]*[!-~])?$")

    @field_validator("header")
    @classmethod
    def _not_framing(cls, value: str) -> str:
        lower = value.lower()
        if (
            lower in HOP_BY_HOP
            or lower in ("via", "expect", "x-request-id")
            or lower.startswith("x-xyb-")
        ):
            raise ValueError(
                f"{value} is set by the gateway or frames the request; use the header the"
                " upstream reads its credential from (e.g. Authorization)"
            )
        return value


class ServiceIn(BaseModel):
    """A service to onboard (POST) or a new version of one (PUT)."""

    model_config = ConfigDict(extra="forbid")

    division: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 code, e.g. 430100")
    slug: str = Field(pattern=SLUG_PATTERN, description="[a-z0-9-]{2,40}, unique per division")
    name: str = Field(min_length=1, max_length=200)
    connector: str = "municipal"
    upstream_url: str | None = Field(
        default=None,
        max_length=2000,
        description="base URL of the upstream; default: the document's first server",
    )
    data_classification: DataClassification = DataClassification.INTERNAL
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    retries: int | None = Field(default=None, ge=0, le=5)
    breaker_threshold: int | None = Field(default=None, ge=1, le=1000)
    breaker_cooldown_s: float | None = Field(default=None, gt=0, le=3600)
    max_concurrency: int | None = Field(default=None, ge=1, le=100_000)
    min_assurance: int = Field(
        default=0,
        ge=0,
        le=3,
        description="the least assurance of a resident's token (0: applications may call alone)",
    )
    upstream_auth: UpstreamAuth | None = None
    document: TextOrObject = Field(
        description="the OpenAPI 3.0/3.1 document: its text (JSON or YAML) or a JSON object"
    )
    bindings: list[Binding] = Field(default_factory=list, max_length=10_000)
    contracts: list[TextOrObject] = Field(
        default_factory=list,
        max_length=100,
        description="contracts (YAML text or objects) to check the document against and record;"
        " every later version must keep them",
    )
    force: bool = Field(
        default=False,
        description="publish a new version even though it breaks a recorded contract (logged)",
    )


class DocumentIssue(BaseModel):
    pointer: str = Field(description="JSON pointer into the document")
    message: str


class RouteOut(BaseModel):
    method: str
    path: str = Field(description="the path through the gateway")
    upstream: str = Field(description="where the gateway sends it")
    operation_id: str
    item_code: str | None
    summary: str | None = None


class BindingOut(BaseModel):
    operation_id: str
    item_code: str
    source: str = Field(description="x-xyb-item or bindings")


class ResiliencePolicy(BaseModel):
    timeout_s: float
    retries: int
    breaker_threshold: int
    breaker_cooldown_s: float
    max_concurrency: int


class ServiceOut(BaseModel):
    """An onboarded service (or, with ``dry_run``, the plan for one)."""

    id: int | None = Field(description="null in a dry run")
    division: str
    division_name: str
    slug: str
    name: str
    connector: str
    upstream_url: str
    data_classification: DataClassification
    status: str
    version: int
    openapi_version: str
    document_sha256: str
    gateway_path: str = Field(description="/gw/{division}/{slug}")
    policy: ResiliencePolicy
    min_assurance: int = 0
    upstream_auth_header: str | None = Field(
        default=None,
        description="the header of the stored upstream credential (its value is never shown)",
    )
    routes: list[RouteOut]
    bindings: list[BindingOut]
    warnings: list[DocumentIssue]
    dry_run: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    retired_at: datetime | None = None


class ServiceSummary(BaseModel):
    id: int
    division: str
    slug: str
    name: str
    connector: str
    upstream_url: str
    status: str
    version: int
    operations: int
    updated_at: datetime


class ServiceVersionOut(BaseModel):
    version: int
    upstream_url: str
    openapi_version: str
    document_sha256: str
    created_at: datetime
