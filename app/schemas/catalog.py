"""Request and response models of the catalog of service items (public and admin APIs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
)

from app.core.divisions import division as known_division
from app.core.divisions import divisions

ITEM_TYPES: tuple[str, ...] = (
    "行政许可",
    "行政给付",
    "行政确认",
    "行政裁决",
    "行政奖励",
    "其他行政权力",
    "公共服务",
)
ItemType = Literal[
    "行政许可", "行政给付", "行政确认", "行政裁决", "行政奖励", "其他行政权力", "公共服务"
]
ServiceObject = Literal["person", "legal_person", "both"]

# Opaque, never parsed; but a code travels in URL paths, so it is one printable token.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# One line of text: no control characters (NUL is refused by PostgreSQL, the rest are noise).
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# Running text: line breaks and tabs allowed, other control characters not.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Materials are joined with it in CSV, so a material cannot contain it.
MATERIALS_SEPARATOR = "；"
MATERIAL_PATTERN = r"^[^\x00-\x1f\x7f；]*$"

# A flag is a JSON boolean or one of these words (a CSV cell, or JSON typed from a spreadsheet);
# exactly these, so that the documented schema says all that is accepted.
_TRUE = ("true", "True", "TRUE", "是", "真")
_FALSE = ("false", "False", "FALSE", "否", "假")


def _flag_word(value: Any) -> Any:
    """是/否 (and true/false as text) become booleans; anything else is left to strict bool."""
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    return value


def _known_division(code: str) -> str:
    """The code, if the gateway knows the division."""
    if known_division(code) is None:
        raise ValueError(
            "unknown division: give a GB/T 2260 code the gateway knows (430000, Hunan's"
            " prefectures and counties, or a partner province)"
        )
    return code


Flag = Annotated[
    bool,
    Strict(),
    BeforeValidator(_flag_word),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": [*_TRUE, *_FALSE]}]}),
]
Code = Annotated[
    str, Field(pattern=CODE_PATTERN, min_length=1, max_length=64, examples=["430100-GJJ-001"])
]
DivisionCode = Annotated[
    str,
    Field(
        pattern=r"^\d{6}$",
        description="GB/T 2260 code, e.g. 430100",
        # Documented as the codes the gateway knows, so clients and fuzzers see which are valid.
        json_schema_extra={"enum": sorted(divisions())},
    ),
    AfterValidator(_known_division),
]
Line = Annotated[str, Field(min_length=1, pattern=LINE_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=10_000, pattern=TEXT_PATTERN)]
Material = Annotated[str, Field(min_length=1, max_length=200, pattern=MATERIAL_PATTERN)]


class ItemFields(BaseModel):
    """An item's standard elements (everything but its code)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[Line, Field(max_length=200, examples=["住房公积金提取"])]
    type: ItemType = Field(description="事项类型")
    legal_basis: Text = Field(description="设定依据")
    service_object: ServiceObject = Field(description="服务对象: person, legal_person or both")
    acceptance_conditions: Text = Field(description="受理条件")
    materials: list[Material] = Field(
        default_factory=list,
        max_length=100,
        description=f"申请材料 (none may contain '{MATERIALS_SEPARATOR}')",
    )
    time_limit_days: int = Field(
        ge=0, le=1000, description="承诺时限, working days (0: on the spot)"
    )
    result: Annotated[Line, Field(max_length=200, description="办理结果")]
    division: DivisionCode
    department: Annotated[Line, Field(max_length=100, description="实施部门")]
    online: Flag = Field(description="can be applied for online")
    one_network: Flag = Field(description="一网通办: handled fully online")
    cross_province: Flag = Field(description="跨省通办")


class ItemIn(ItemFields):
    """An item to create (or one row of an import file)."""

    code: Code = Field(description="the item's code: opaque, unique, at most 64 characters")


class ItemOut(BaseModel):
    """An item as stored, with its standard elements."""

    code: str
    name: str
    type: str
    legal_basis: str
    service_object: str
    acceptance_conditions: str
    materials: list[str]
    time_limit_days: int
    result: str
    division: str
    division_name: str
    department: str
    online: bool
    one_network: bool
    cross_province: bool
    created_at: datetime
    updated_at: datetime


class ItemSummary(BaseModel):
    """One search result."""

    code: str
    name: str
    type: str
    service_object: str
    division: str
    division_name: str
    department: str
    time_limit_days: int
    online: bool
    one_network: bool
    cross_province: bool


class ItemPage(BaseModel):
    """A page of search results; ``next_cursor`` fetches the next one (null on the last)."""

    items: list[ItemSummary]
    limit: int
    next_cursor: str | None


class GatewayOperation(BaseModel):
    """How to call one operation bound to the item, through the gateway."""

    method: str
    path: str = Field(description="the gateway path, /gw/{division}/{slug}{path}")
    operation_id: str
    summary: str | None
    service: str = Field(description="the service's name")
    service_division: str
    service_slug: str


class ItemDetail(ItemOut):
    """An item with its elements, whether it is reachable, and its operations."""

    reachable: bool = Field(description="online and bound to an operation of an active service")
    operations: list[GatewayOperation]


class ImportResult(BaseModel):
    """What an import did."""

    created: int
    updated: int
    total: int


class SynonymIn(BaseModel):
    """What people type and what it stands for (社保 → 社会保险)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    term: Annotated[Line, Field(max_length=40, examples=["社保"])]
    expansion: Annotated[Line, Field(max_length=80, examples=["社会保险"])]


class SynonymOut(BaseModel):
    """A stored synonym (both sides folded: NFKC, lower case, no whitespace)."""

    id: int
    term: str
    expansion: str
