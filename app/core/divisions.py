"""GB/T 2260 divisions the gateway knows: Hunan, its prefectures and counties, and the partners."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

Level = Literal["province", "prefecture", "county", "partner"]

HUNAN = "430000"
# Provinces whose apps belong to the government-service app alliance (政务服务APP联盟).
PARTNER_PROVINCES: Mapping[str, str] = {
    "440000": "广东省",
    "310000": "上海市",
    "360000": "江西省",
}


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    level: Level
    parent: str | None


def _rows(name: str) -> list[dict[str, str]]:
    text = files("app.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def divisions() -> Mapping[str, Division]:
    """Every known division by code (read once from the packaged reference data)."""
    known: dict[str, Division] = {}
    for row in _rows("hunan_divisions.csv"):
        code = row["code"]
        level: Level = "province" if code == HUNAN else "prefecture"
        known[code] = Division(code, row["name"], level, None if code == HUNAN else HUNAN)
    for row in _rows("hunan_counties_2023.csv"):
        known[row["code"]] = Division(row["code"], row["name"], "county", row["prefecture_code"])
    for code, name in PARTNER_PROVINCES.items():
        known[code] = Division(code, name, "partner", None)
    return known


def division(code: str) -> Division | None:
    """The division with this code, or None if the gateway does not know it."""
    return divisions().get(code)


def contains(ancestor: str, code: str) -> bool:
    """Whether the 6-digit division ``code`` lies within ``ancestor`` (itself included), by the
    structure of GB/T 2260 codes: 430000 holds every 43xxxx, 431200 every 4312xx. Codes need not
    be in the table (a credit code's registering division may be any county)."""
    prefix = ancestor.rstrip("0")
    prefix += "0" * (len(prefix) % 2)  # a level is two digits: 430100 -> 4301, 431020 -> 431020
    return len(code) == 6 and code.isdigit() and code.startswith(prefix)
