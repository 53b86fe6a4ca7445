"""The request fields a city system checks, declared once for its handlers and its OpenAPI document.

A ``FieldSpec`` validates a value with JSON Schema's own semantics (``re.search`` for patterns,
code points for lengths) and renders itself as a schema for OpenAPI 3.0 or 3.1, so what the
document promises and what the app accepts cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

OpenApiVersion = Literal["3.0.3", "3.1.0"]

ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"
MONTH_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"
RECORD_ID_PATTERN = r"^BDC[0-9]{6}-[0-9]{4}-[0-9]{7}$"
APPLICATION_ID_PATTERN = r"^JZZ[0-9]{6}-[0-9]{6}$"
REGISTRATION_ID_PATTERN = r"^CSDJ[0-9]{6}-[0-9]{6}$"
BIRTH_CERTIFICATE_PATTERN = r"^[A-Z][0-9]{9}$"
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", re.ASCII)

Kind = Literal["string", "date"]


def matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` as JSON Schema reads it (unanchored search)."""
    return re.search(pattern, value) is not None


def parse_date(value: str) -> date | None:
    """An RFC 3339 full-date (``YYYY-MM-DD``), or None."""
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def nullable(schema: dict[str, Any], version: OpenApiVersion) -> dict[str, Any]:
    """``schema`` that also admits null: ``nullable`` in 3.0, a type list in 3.1."""
    if version == "3.0.3":
        return {**schema, "nullable": True}
    return {**schema, "type": [schema["type"], "null"]}


def example(schema: dict[str, Any], value: Any, version: OpenApiVersion) -> dict[str, Any]:
    """``schema`` with an example: ``example`` in 3.0, ``examples`` (a list) in 3.1."""
    if version == "3.0.3":
        return {**schema, "example": value}
    return {**schema, "examples": [value]}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    description: str
    kind: Kind = "string"
    required: bool = True
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    example: str | None = None
    ref: str | None = None  # a component schema to point at instead of an inline one

    def check(self, value: object) -> str | None:
        """Why ``value`` does not fit (in Chinese, the city's language), or None."""
        if value is None:
            return None if self.nullable else "不能为空"
        if not isinstance(value, str):
            return "必须是字符串"
        if self.kind == "date":
            return None if parse_date(value) else "必须是YYYY-MM-DD格式的日期"
        if self.enum and value not in self.enum:
            return f"必须是以下之一：{'、'.join(self.enum)}"
        if self.min_length is not None and len(value) < self.min_length:
            return f"长度不能少于{self.min_length}个字符"
        if self.max_length is not None and len(value) > self.max_length:
            return f"长度不能超过{self.max_length}个字符"
        if self.pattern is not None and not matches(self.pattern, value):
            return "格式不正确"
        return None

    def schema(self, version: OpenApiVersion, example_value: Any = None) -> dict[str, Any]:
        """The property's schema in a document of ``version``, with ``example_value`` (if any)
        as its example instead of the field's own."""
        if self.ref is not None:
            reference = {"$ref": f"#/components/schemas/{self.ref}"}
            if example_value is None:
                return reference
            if version == "3.0.3":  # 3.0 ignores a reference's siblings: wrap it
                return {"allOf": [reference], "example": example_value}
            return {**reference, "examples": [example_value]}
        schema: dict[str, Any] = {"type": "string", "description": self.description}
        if self.kind == "date":
            schema["format"] = "date"
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if example_value is not None or self.example is not None:
            schema = example(schema, example_value or self.example, version)
        if self.nullable:
            schema = nullable(schema, version)
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema


def check_fields(specs: Sequence[FieldSpec], data: Mapping[str, object]) -> list[dict[str, str]]:
    """Every field problem of ``data``, as ``[{"field", "message"}]``."""
    errors: list[dict[str, str]] = []
    for spec in specs:
        if spec.name not in data:
            if spec.required:
                errors.append({"field": spec.name, "message": "缺少必填字段"})
            continue
        problem = spec.check(data[spec.name])
        if problem is not None:
            errors.append({"field": spec.name, "message": problem})
    return errors


def object_schema(
    specs: Sequence[FieldSpec],
    version: OpenApiVersion,
    examples: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An object schema with these fields as properties; ``examples`` gives each field's example
    (together, one request the city accepts: example-based tests combine them)."""
    examples = examples or {}
    return {
        "type": "object",
        "required": [spec.name for spec in specs if spec.required],
        "properties": {spec.name: spec.schema(version, examples.get(spec.name)) for spec in specs},
    }


def id_number_field(name: str, description: str, *, required: bool = True) -> FieldSpec:
    """A resident ID number field, documented by a reference to the ``IdNumber`` component."""
    return FieldSpec(
        name, description, required=required, pattern=ID_NUMBER_PATTERN, ref="IdNumber"
    )


# The ``IdNumber`` component itself.
ID_NUMBER_SCHEMA = FieldSpec(
    "id_number",
    "公民身份号码（GB 11643，18位，末位可为X）",
    pattern=ID_NUMBER_PATTERN,
    example="11010519491231002X",
)

RESIDENCE_REASONS = ("就业", "就学", "居住")
RESIDENCE_PERMIT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("applicant_name", "申请人姓名", min_length=2, max_length=30, example="张三"),
    id_number_field("id_number", "申请人公民身份号码"),
    FieldSpec("phone", "联系电话", pattern=PHONE_PATTERN, example="13812345678"),
    FieldSpec("address", "居住地址", min_length=5, max_length=200),
    FieldSpec("reason", "申领事由", enum=RESIDENCE_REASONS),
    FieldSpec("residence_since", "居住起始日期（须已居住满半年）", kind="date"),
    FieldSpec(
        "employer_name",
        "就业单位名称（申领事由为就业时必填）",
        required=False,
        nullable=True,
        max_length=100,
    ),
)

SEXES = ("男", "女")
BIRTH_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("baby_name", "新生儿姓名", min_length=2, max_length=20, example="李小明"),
    FieldSpec("sex", "性别", enum=SEXES),
    FieldSpec("birth_date", "出生日期", kind="date"),
    id_number_field("mother_id_number", "母亲公民身份号码"),
    id_number_field("father_id_number", "父亲公民身份号码", required=False),
    FieldSpec("hospital", "出生医院", min_length=2, max_length=100),
    FieldSpec(
        "birth_certificate_no",
        "出生医学证明编号",
        pattern=BIRTH_CERTIFICATE_PATTERN,
        example="R430123456",
    ),
)
