"""The synthetic catalog: deterministic per seed, valid, and plausible in its proportions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from app.core.divisions import HUNAN, divisions
from app.schemas.catalog import ITEM_TYPES
from app.services.catalog.files import RawRow, validate_rows
from app.services.catalog.generator import DOMAINS, VERBS, generate, patterns
from app.simulators import CITY_DIVISIONS, city_items
from app.simulators.city.catalog import simulated_items

PREFECTURES = {d.code for d in divisions().values() if d.level == "prefecture"}


@pytest.fixture(scope="module")
def catalog() -> list[dict[str, Any]]:
    return generate(10_000, seed=42, first=simulated_items())


def test_the_same_seed_gives_the_same_items_and_another_seed_others() -> None:
    assert generate(500, seed=7, first=simulated_items()) == generate(
        500, seed=7, first=simulated_items()
    )
    other = generate(500, seed=8, first=simulated_items())
    assert other != generate(500, seed=7, first=simulated_items())
    # A smaller catalog is the start of a larger one with the same seed.
    assert (
        generate(300, seed=7, first=simulated_items())
        == generate(500, seed=7, first=simulated_items())[:300]
    )


def test_every_generated_item_passes_the_import_checks(catalog: list[dict[str, Any]]) -> None:
    rows = [RawRow(n + 1, None, values) for n, values in enumerate(catalog)]
    assert len(validate_rows(rows)) == 10_000
    assert len({i["code"] for i in catalog}) == 10_000


def test_the_simulators_items_come_first_with_their_names(catalog: list[dict[str, Any]]) -> None:
    expected = {(c.code, c.name, c.kind) for d in CITY_DIVISIONS for c in city_items(d)}
    assert len(expected) == 84
    assert {(i["code"], i["name"], i["type"]) for i in catalog[:84]} == expected
    assert all(i["online"] for i in catalog[:84])
    assert simulated_items() == catalog[:84]


def test_items_spread_over_the_province_and_its_prefectures(
    catalog: list[dict[str, Any]],
) -> None:
    by_division = Counter(i["division"] for i in catalog)
    assert set(by_division) == PREFECTURES | {HUNAN}
    assert min(by_division.values()) > 400
    provincial = {i["department"] for i in catalog if i["division"] == HUNAN}
    assert {"省公安厅", "省人社厅", "省卫健委", "省市场监管局"} <= provincial
    changsha = {i["department"] for i in catalog if i["division"] == "430100"}
    assert "长沙市人力资源和社会保障局" in changsha
    xiangxi = {i["department"] for i in catalog if i["division"] == "433100"}
    assert "湘西州公安局" in xiangxi
    # No name twice in one division.
    assert len({(i["division"], i["name"]) for i in catalog}) == len(catalog)


def test_types_time_limits_and_flags_are_plausible(catalog: list[dict[str, Any]]) -> None:
    types = Counter(i["type"] for i in catalog)
    assert set(types) == set(ITEM_TYPES)
    assert 0.3 < types["行政许可"] / len(catalog) < 0.6
    assert 0.15 < types["公共服务"] / len(catalog) < 0.4
    public = [i["time_limit_days"] for i in catalog if i["type"] == "公共服务"]
    assert sum(1 for d in public if d <= 5) / len(public) > 0.8
    licences = [i["time_limit_days"] for i in catalog if i["type"] == "行政许可"]
    assert sum(1 for d in licences if 5 <= d <= 20) / len(licences) > 0.7
    share = {
        flag: sum(i[flag] for i in catalog) / len(catalog)
        for flag in ("online", "one_network", "cross_province")
    }
    assert share["online"] > 0.8
    assert 0.45 < share["one_network"] < 0.55
    assert 0.07 < share["cross_province"] < 0.13
    # 一网通办 and 跨省通办 items are online.
    assert all(i["online"] for i in catalog if i["one_network"] or i["cross_province"])
    assert {i["service_object"] for i in catalog} == {"person", "legal_person", "both"}
    names = {i["name"] for i in catalog}
    for name in ("住房公积金提取", "机动车驾驶证换领", "食品经营许可证核发", "医疗保险参保登记"):
        assert name in names
    assert "城乡居民基本养老保险待遇申领" in names


def test_there_are_hundreds_of_name_patterns_across_departments() -> None:
    assert len(DOMAINS) >= 25
    assert len(patterns()) >= 800
    assert len({p.base for p in patterns()}) >= 500
    assert all(p.type in ITEM_TYPES for p in patterns())
    assert all(v.days[0] <= v.days[1] for v in VERBS.values())


def test_larger_catalogs_reach_the_counties() -> None:
    items = generate(14_000, seed=1, first=simulated_items())
    levels = Counter(divisions()[i["division"]].level for i in items)
    assert levels["county"] > 0
    assert len({i["code"] for i in items}) == 14_000
