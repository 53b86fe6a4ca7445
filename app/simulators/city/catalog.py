"""The catalog rows of the items the city simulators serve (84: six per city), for the demo.

The simulators own this: the product's generator knows nothing of them and takes these as the
items that must come first (``generate(count, seed, first=simulated_items())``), so the demo's
operations are bound to catalog items under the names the simulators give them.
"""

from __future__ import annotations

from typing import Any

from app.services.catalog.generator import COMPLETE, DOMAINS, PERSON, chinese_number, short_name
from app.simulators.city import CITY_DIVISIONS, city_items

# Which domain serves each item, and its other elements.
_SIMULATED: dict[str, tuple[str, int, bool, tuple[str, ...], str]] = {
    "BDC-001": ("BDC", 0, False, ("居民身份证",), "不动产登记信息"),
    "GJJ-001": ("GJJ", 0, True, ("居民身份证",), "个人账户信息"),
    "GJJ-002": ("GJJ", 0, True, ("居民身份证",), "缴存明细"),
    "SB-001": ("RS", 0, True, ("居民身份证",), "缴费记录"),
    "JZZ-001": ("GA", 15, False, ("居民身份证", "近期免冠照片", "居住证明"), "居住证"),
    "CSDJ-001": (
        "GA",
        1,
        False,
        ("出生医学证明", "父母双方居民身份证", "居民户口簿", "结婚证"),
        "户口登记",
    ),
}
_SIMULATED_DEPARTMENTS = {
    "BDC": "{city}不动产登记中心",
    "GJJ": "{city}住房公积金管理中心",
    "RS": "{city}人力资源和社会保障局",
    "GA": "{city}公安局",
}


def simulated_items() -> list[dict[str, Any]]:
    """The 84 items the city simulators serve, with the names they give them."""
    found: list[dict[str, Any]] = []
    for division in CITY_DIVISIONS:
        for item in city_items(division):
            suffix = item.code.removeprefix(f"{division}-")
            key, days, cross, materials, result = _SIMULATED[suffix]
            domain = next(d for d in DOMAINS if d.key == key)
            department = _SIMULATED_DEPARTMENTS[key].format(city=short_name(division))
            law = domain.laws[0]
            found.append(
                {
                    "code": item.code,
                    "name": item.name,
                    "type": item.kind,
                    "service_object": PERSON,
                    "division": division,
                    "department": department,
                    "legal_basis": f"{law}第{chinese_number(2 + len(found) % 40)}条",
                    "acceptance_conditions": f"{domain.conditions[0]}{COMPLETE}",
                    "materials": list(materials),
                    "time_limit_days": days,
                    "result": result,
                    "online": True,
                    "one_network": True,
                    "cross_province": cross,
                }
            )
    return found
