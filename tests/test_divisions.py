"""The packaged GB/T 2260 reference data."""

from __future__ import annotations

from collections import Counter

from app.core.divisions import division, divisions


def test_counts_per_level() -> None:
    levels = Counter(d.level for d in divisions().values())
    assert levels == {"province": 1, "prefecture": 14, "county": 122, "partner": 3}


def test_every_county_belongs_to_a_known_prefecture() -> None:
    for d in divisions().values():
        if d.level == "county":
            assert d.parent is not None
            parent = division(d.parent)
            assert parent is not None
            assert parent.level == "prefecture"


def test_lookups() -> None:
    changsha = division("430100")
    assert changsha is not None
    assert changsha.name == "长沙市"
    assert division("430582") is not None  # 邵东市 since 2019, not the old 430521
    assert division("430521") is None
    assert division("430371") is None  # a statistical-only code, not a division
    guangdong = division("440000")
    assert guangdong is not None
    assert guangdong.level == "partner"
    assert division("999999") is None


def test_a_division_contains_the_codes_under_it_by_their_structure() -> None:
    from app.core.divisions import contains

    assert contains("430000", "431281")  # a county of the province
    assert contains("431200", "431281")  # of its prefecture
    assert contains("431281", "431281")  # itself
    assert not contains("431200", "430102")  # another prefecture's
    assert not contains("430100", "440100")  # another province's
    assert not contains("430000", "43")  # not a division code
