"""GB 11643 resident ID numbers and GB 32100 credit codes: the packaged vectors, then negatives."""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from typing import Any

import pytest

from app.core.identifiers import (
    PROVINCE_PREFIXES,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    make_uscc,
    mask_phone,
    mask_resident_id,
    normalise_resident_id,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

TODAY = date(2023, 11, 1)


def _vectors(kind: str) -> list[dict[str, Any]]:
    text = files("app.data").joinpath("test_vectors.json").read_text(encoding="utf-8")
    entries: list[dict[str, Any]] = json.loads(text)[kind]
    return entries


@pytest.mark.parametrize("vector", _vectors("resident_id"), ids=lambda v: v["value"])
def test_resident_id_vectors(vector: dict[str, Any]) -> None:
    value: str = vector["value"]
    assert (resident_id_check_char(value[:17]) == value[17]) is vector["check_ok"]
    reasons = validate_resident_id(value, today=TODAY)
    assert not [r for r in reasons if "check digit" in r]
    # Every valid vector passes, 440524188001010014 (born 1880) included.
    assert (reasons == []) is vector["check_ok"]


@pytest.mark.parametrize("vector", _vectors("uscc"), ids=lambda v: v["value"])
def test_uscc_vectors(vector: dict[str, Any]) -> None:
    value: str = vector["value"]
    assert (org_code_check_char(value[8:16]) == value[16]) is vector["org_code_check_ok"]
    assert (uscc_check_char(value[:17]) == value[17]) is vector["check_ok"]
    assert validate_uscc(value) == []
    assert is_valid_uscc(value)
    assert make_uscc(value[:2], value[2:8], value[8:16]) == value


def test_provinces_are_the_34_provincial_level_divisions() -> None:
    assert len(PROVINCE_PREFIXES) == 34
    assert {"43", "44", "31", "36", "71", "81", "82"} <= PROVINCE_PREFIXES
    assert "99" not in PROVINCE_PREFIXES


def test_make_resident_id_round_trips_for_every_province() -> None:
    for prefix in sorted(PROVINCE_PREFIXES):
        number = make_resident_id(f"{prefix}0102", date(1990, 1, 1), 123)
        assert validate_resident_id(number, today=TODAY) == [], number
    assert make_resident_id("110105", date(1949, 12, 31), 2) == "11010519491231002X"


def test_a_wrong_check_digit_names_the_right_one() -> None:
    good = make_resident_id("430102", date(1990, 1, 1), 123)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert validate_resident_id(wrong, today=TODAY) == [
        f"check digit should be {good[17]}, not {wrong[17]}"
    ]


def test_check_digit_x_is_named_when_expected() -> None:
    assert validate_resident_id("110105194912310021", today=TODAY) == [
        "check digit should be X, not 1"
    ]


def test_lower_case_x_is_accepted_and_normalised() -> None:
    assert validate_resident_id("11010519491231002x", today=TODAY) == []
    assert normalise_resident_id(" 11010519491231002x ") == "11010519491231002X"


def test_a_birth_date_in_the_future_is_refused() -> None:
    number = make_resident_id("430102", date(2024, 1, 1), 123)
    assert validate_resident_id(number, today=TODAY) == ["birth date 2024-01-01 is in the future"]
    assert validate_resident_id(number, today=date(2024, 1, 1)) == []


def test_a_date_that_does_not_exist_is_refused() -> None:
    body = "43010219900230123"
    reasons = validate_resident_id(body + resident_id_check_char(body), today=TODAY)
    assert reasons == ["birth date 19900230 is not a real date"]


def test_a_birth_before_1800_is_refused() -> None:
    number = make_resident_id("430102", date(1799, 12, 31), 123)
    assert validate_resident_id(number, today=TODAY) == ["birth date 1799-12-31 is before 1800"]


def test_an_unknown_province_is_refused() -> None:
    body = "99010219900101123"
    number = body + resident_id_check_char(body)
    assert validate_resident_id(number, today=TODAY) == [
        "address code 990102 is not in a known province (99)"
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4301021990010112", "must be 18 characters long, not 16"),
        ("4301021990010112345", "must be 18 characters long, not 19"),
        ("", "must be 18 characters long, not 0"),
        ("43010219900101123A", "check digit should be 8, not A"),
        ("4301021990O101123X", "the first 17 characters must be digits"),
        ("4301021990010112３X", "the first 17 characters must be digits"),
    ],
)
def test_wrong_lengths_and_letters(value: str, reason: str) -> None:
    assert validate_resident_id(value, today=TODAY) == [reason]


def test_every_reason_is_given_at_once() -> None:
    reasons = validate_resident_id("990102199002301230", today=TODAY)
    assert len(reasons) == 3
    assert not is_valid_resident_id("990102199002301230", today=TODAY)


def test_masks() -> None:
    assert mask_resident_id("430102199001011234") == "4301**********1234"
    assert mask_resident_id("43010219900101123x") == "4301**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "123**"


def test_uscc_bad_check_character_names_the_right_one() -> None:
    assert validate_uscc("91350100M000100Y44") == ["check character should be 3, not 4"]


def test_uscc_bad_organisation_code_check_names_the_right_one() -> None:
    # 11370800MB2855918 with its organisation check changed from 8 to 7, outer check recomputed.
    first17 = "11370800MB2855917"
    value = first17 + uscc_check_char(first17)
    assert validate_uscc(value) == ["organisation code check (GB 11714) should be 8, not 7"]


def test_uscc_org_check_uses_the_full_alphabet() -> None:
    """The organisation check reads I, O, S, V, Z as 18, 24, 28, 31, 35 (the known bug is not)."""
    assert org_code_check_char("MA4L0X2B") != org_code_check_char("MA4L0X2C")
    assert org_code_check_char("00000000") == "0"  # 11 - 0 = 11 -> 0
    assert make_uscc("91", "430100", "MA4L0X2B")[16] == org_code_check_char("MA4L0X2B")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y4", "must be 18 characters long, not 17"),
        ("91350100M000100YI3", "characters not allowed in a credit code: I"),
        ("9135010OM000100Y43", "characters not allowed in a credit code: O"),
    ],
)
def test_uscc_shape(value: str, reason: str) -> None:
    assert validate_uscc(value) == [reason]


def test_make_functions_refuse_bad_parts() -> None:
    with pytest.raises(ValueError, match="address code"):
        make_resident_id("4301", date(1990, 1, 1), 1)
    with pytest.raises(ValueError, match="sequence"):
        make_resident_id("430102", date(1990, 1, 1), 1000)
    with pytest.raises(ValueError, match="division"):
        make_uscc("91", "43010", "MA4L0X2B")
    with pytest.raises(ValueError, match="organisation code body"):
        make_uscc("91", "430100", "MA4L0X2")


def test_the_birth_date_of_a_resident_id_number() -> None:
    from datetime import date

    from app.core.identifiers import resident_birth_date

    assert resident_birth_date("431281196307301826") == date(1963, 7, 30)
    assert resident_birth_date("431281196307301827") is None  # a wrong check character
