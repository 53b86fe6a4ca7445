"""The license types the registry holds, as it describes them (its 证照类型目录).

They are the product's catalogue of e-license types (``app/data/license_types.csv``, read by
``app.services.elicense.types``), each with its GB/T 36904 type code, name, defining department,
kind of holder, trust level and data items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from app.services.elicense.types import license_types

# Kinds of holder (持证主体类型) in the registry's words.
PERSON, LEGAL_PERSON = "1", "2"
_HOLDER_KINDS = {"person": PERSON, "legal_person": LEGAL_PERSON}
# Data item types as the registry names them (every value travels as a string).
_LABELS = {
    "name": "姓名",
    "holder_name": "持证人姓名",
    "sex": "性别",
    "ethnicity": "民族",
    "birth_date": "出生日期",
    "address": "住址",
    "id_number": "公民身份号码",
    "valid_from": "有效期起始日期",
    "valid_until": "有效期截止日期",
    "issuer": "签发机关",
    "issue_date": "发证日期",
    "license_number": "证照编号",
    "certificate_number": "证书编号",
    "entity_name": "名称",
    "credit_code": "统一社会信用代码",
    "legal_representative": "法定代表人",
    "scope": "许可范围",
    "business_scope": "经营范围",
}


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data item of a license type (数据项)."""

    name: str  # sjxbs: the key in a license's zzsj
    label: str  # sjxmc
    kind: str  # sjxlx: string, date, integer, decimal, boolean

    def as_json(self) -> dict[str, str]:
        return {"sjxbs": self.name, "sjxmc": self.label, "sjxlx": self.kind}


@dataclass(frozen=True, slots=True)
class RegistryType:
    """One license type as the registry lists it."""

    code: str  # zzlxdm
    name: str  # zzlxmc
    department: str  # bfbm
    holder_kind: str  # czztlx: 1 person, 2 legal person
    trust_level: str  # kxdj: A-D
    fields: tuple[DataItem, ...]  # sjx

    def as_json(self) -> dict[str, object]:
        return {
            "zzlxdm": self.code,
            "zzlxmc": self.name,
            "bfbm": self.department,
            "czztlx": self.holder_kind,
            "kxdj": self.trust_level,
            "sjx": [item.as_json() for item in self.fields],
        }


@cache
def registry_types() -> Mapping[str, RegistryType]:
    """Every license type by type code, in code order."""
    found: dict[str, RegistryType] = {}
    for kind in sorted(license_types().values(), key=lambda k: k.code):
        found[kind.code] = RegistryType(
            code=kind.code,
            name=kind.name,
            department=kind.department,
            holder_kind=_HOLDER_KINDS[kind.holder],
            trust_level=kind.trust_level,
            fields=tuple(
                DataItem(f.name, _LABELS.get(f.name, f.name), f.type) for f in kind.fields
            ),
        )
    return found


@cache
def _by_name() -> Mapping[str, RegistryType]:
    by_name: dict[str, RegistryType] = {}
    for kind in registry_types().values():
        by_name.setdefault(kind.name, kind)
    return by_name


def type_named(*names: str) -> RegistryType | None:
    """The first type with one of these names (the first name tried first), or None."""
    for name in names:
        found = _by_name().get(name)
        if found is not None:
            return found
    return None
