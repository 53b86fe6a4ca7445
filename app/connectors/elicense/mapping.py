"""The registry's fields (pinyin initials, yyyyMMdd, status codes) and the canonical API's.

Everything the registry sends is read defensively: a field of the wrong type or shape makes the
answer a bad upstream answer, never a 500 of the gateway or a value passed on unchecked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.connectors.base import UpstreamBadResponse
from app.core.identifiers import mask_resident_id

STATUS_NAMES = {"01": "valid", "02": "revoked", "03": "expired"}
HOLDER_KINDS = {"1": "person", "2": "legal_person"}
HOLDER_KIND_CODES = {name: code for code, name in HOLDER_KINDS.items()}
# 持证主体代码类型: 111 居民身份证 (GB 11643), 001 统一社会信用代码 (GB 32100).
HOLDER_CODE_KINDS = {"111": "person", "001": "legal_person"}
HOLDER_CODE_KIND_OF = {name: code for code, name in HOLDER_CODE_KINDS.items()}
INDEFINITE = "长期"


class BadRegistryData(UpstreamBadResponse):
    """The registry's data is not what its protocol promises."""


def _text(record: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = record.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise BadRegistryData(f"The e-license registry sent a record whose {name} is not text.")
    return value


def text(record: dict[str, Any], name: str) -> str:
    value = _text(record, name)
    assert value is not None
    return value


def ymd(value: str | None) -> date | None:
    """A yyyyMMdd date; None for none or 长期."""
    if value is None or value == INDEFINITE:
        return None
    if len(value) != 8 or not value.isdigit():
        raise BadRegistryData("The e-license registry sent a date that is not yyyyMMdd.")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise BadRegistryData("The e-license registry sent a date that does not exist.") from None


def to_ymd(value: date | None) -> str:
    return INDEFINITE if value is None else value.strftime("%Y%m%d")


def _iso(value: str | None) -> str | None:
    day = ymd(value)
    return day.isoformat() if day is not None else None


def license_type(record: object) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadRegistryData("The e-license registry sent a license type that is not an object.")
    items = record.get("sjx")
    if not isinstance(items, list):
        raise BadRegistryData("The e-license registry sent a license type without its sjx list.")
    fields = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRegistryData("The e-license registry sent a data item that is not an object.")
        fields.append(
            {"name": text(item, "sjxbs"), "label": text(item, "sjxmc"), "type": text(item, "sjxlx")}
        )
    holder = text(record, "czztlx")
    if holder not in HOLDER_KINDS:
        raise BadRegistryData("The e-license registry sent an unknown holder kind.")
    return {
        "code": text(record, "zzlxdm"),
        "name": text(record, "zzlxmc"),
        "department": text(record, "bfbm"),
        "holderKind": HOLDER_KINDS[holder],
        "trustLevel": text(record, "kxdj"),
        "fields": fields,
    }


def status_of(record: dict[str, Any], today: date) -> str:
    """The license's status now: the registry's, expired once its validity has ended (the
    registry marks expiry in a nightly run; a licence past its end date is not valid today), and
    pending before its validity begins."""
    code = text(record, "zzzt")
    if code not in STATUS_NAMES:
        raise BadRegistryData("The e-license registry sent an unknown license status.")
    status = STATUS_NAMES[code]
    until = ymd(text(record, "yxqz"))
    if status == "valid" and until is not None and until < today:
        return "expired"
    start = ymd(text(record, "yxqq"))
    if status == "valid" and start is not None and start > today:
        return "pending"  # 未生效: issued, its validity not begun
    return status


def holder_kind(record: dict[str, Any]) -> str:
    kind = text(record, "czztdmlx")
    if kind not in HOLDER_CODE_KINDS:
        raise BadRegistryData("The e-license registry sent an unknown holder code kind.")
    return HOLDER_CODE_KINDS[kind]


def license_view(record: object, today: date, *, with_data: bool) -> dict[str, Any]:
    """The canonical License of a registry record (``zzsj`` as ``data`` when asked)."""
    if not isinstance(record, dict):
        raise BadRegistryData("The e-license registry sent a license that is not an object.")
    view: dict[str, Any] = {
        "id": text(record, "zzbs"),
        "type": {"code": text(record, "zzlxdm"), "name": text(record, "zzlxmc")},
        "number": text(record, "zzbh"),
        "version": text(record, "bbh"),
        "holder": {
            "kind": holder_kind(record),
            "name": text(record, "czzt"),
            "code": text(record, "czztdm"),
        },
        "issuer": {"name": text(record, "bfjg"), "code": text(record, "bfjgdm")},
        "issuedOn": _iso(text(record, "bfrq")),
        "validFrom": _iso(text(record, "yxqq")),
        "validUntil": _iso(text(record, "yxqz")),
        "status": status_of(record, today),
        "trustLevel": text(record, "kxdj"),
    }
    revoked_on = _text(record, "zxrq", optional=True)
    if revoked_on is not None:
        view["revokedOn"] = _iso(revoked_on)
    reason = _text(record, "zxyy", optional=True)
    if reason is not None:
        view["revocationReason"] = reason
    if with_data:
        data = record.get("zzsj")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise BadRegistryData("The e-license registry sent data items that are not text.")
        view["data"] = dict(data)
    return view


def mask_name(name: str) -> str:
    """张三丰 -> 张**; a firm's name is public and stays whole."""
    return name[:1] + "*" * (len(name) - 1) if name else name


def masked_holder(kind: str, name: str, code: str) -> dict[str, str]:
    """The holder as a verifier sees them: a person's name and ID number masked; a legal person's
    name and credit code are public (国家企业信用信息公示系统) and stay whole."""
    if kind == "person":
        return {"kind": kind, "name": mask_name(name), "code": mask_resident_id(code)}
    return {"kind": kind, "name": name, "code": code}
