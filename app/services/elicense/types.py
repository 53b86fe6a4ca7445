"""The e-license types (电子证照类型): ``app/data/license_types.csv``, checked and read once.

Each type has a GB/T 36904 type code (the defining department's credit code + a 3-digit serial),
its Chinese name, the department, who holds it (a person or a legal person), a trust level A-D
(国办函〔2016〕108号) and the data fields of a license of that type. Where the codes come from (real
or generated) is in ``app/data/README.md``; ``scripts/generate_license_types.py`` writes the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal, TypeVar, cast, get_args

from app.core.identifiers import validate_uscc

Holder = Literal["person", "legal_person"]
TrustLevel = Literal["A", "B", "C", "D"]
FieldType = Literal["string", "date", "integer", "decimal", "boolean"]
CodeSource = Literal["real", "real_department", "generated"]
Scope = Literal["national", "hunan"]

DATA_FILE = "license_types.csv"
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LicenseField:
    """One data field of a license type: a snake_case name and its type."""

    name: str
    type: FieldType


@dataclass(frozen=True, slots=True)
class LicenseType:
    """One e-license type (one row of the data file)."""

    code: str  # 21 characters: department_code + serial
    name: str
    department: str
    department_code: str
    code_source: CodeSource  # real: the whole code is attested; real_department: its first 18
    scope: Scope
    holder: Holder
    trust_level: TrustLevel
    fields: tuple[LicenseField, ...]

    @property
    def serial(self) -> str:
        """The 3-digit serial of the type within its department."""
        return self.code[18:]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)


def _choice(value: str, allowed: tuple[_T, ...], what: str) -> _T:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(map(str, allowed))}")
    return cast(_T, value)


def parse_fields(text: str) -> tuple[LicenseField, ...]:
    """``name:type;name:type`` as fields; ValueError on a malformed or repeated field."""
    fields: list[LicenseField] = []
    for item in text.split(";"):
        name, sep, kind = item.partition(":")
        if not sep or not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"field {item!r} is not name:type with a snake_case name")
        fields.append(LicenseField(name, _choice(kind, get_args(FieldType), "field type")))
    names = [field.name for field in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"repeated field names in {text!r}")
    return tuple(fields)


def parse_row(row: Mapping[str, str]) -> LicenseType:
    """One CSV row as a license type; ValueError naming what is wrong."""
    code, department_code = row["code"], row["department_code"]
    reasons = validate_uscc(department_code)
    if reasons:
        raise ValueError(f"department code {department_code}: {'; '.join(reasons)}")
    if len(code) != 21 or not code.startswith(department_code) or not code[18:].isdigit():
        raise ValueError(f"type code {code} is not {department_code} + 3 digits")
    if not row["name"].strip() or not row["department"].strip():
        raise ValueError(f"type {code} has no name or no department")
    return LicenseType(
        code=code,
        name=row["name"],
        department=row["department"],
        department_code=department_code,
        code_source=_choice(row["code_source"], get_args(CodeSource), "code source"),
        scope=_choice(row["scope"], get_args(Scope), "scope"),
        holder=_choice(row["holder"], get_args(Holder), "holder"),
        trust_level=_choice(row["trust_level"], get_args(TrustLevel), "trust level"),
        fields=parse_fields(row["fields"]),
    )


def parse_license_types(text: str) -> dict[str, LicenseType]:
    """The types in a CSV text by code; ValueError (with the line) on a bad row or repeated code."""
    types: dict[str, LicenseType] = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            license_type = parse_row(row)
        except (ValueError, KeyError) as error:
            raise ValueError(f"{DATA_FILE} line {line}: {error}") from error
        if license_type.code in types:
            raise ValueError(f"{DATA_FILE} line {line}: code {license_type.code} is repeated")
        types[license_type.code] = license_type
    return types


@cache
def license_types() -> Mapping[str, LicenseType]:
    """Every license type by code, in the file's order (read once from the packaged data)."""
    return parse_license_types(files("app.data").joinpath(DATA_FILE).read_text(encoding="utf-8"))


def license_type(code: str) -> LicenseType | None:
    """The license type with that code, or None."""
    return license_types().get(code.strip().upper())


def license_types_named(name: str) -> list[LicenseType]:
    """The license types with exactly that name (the same name may be defined more than once)."""
    return [t for t in license_types().values() if t.name == name]
