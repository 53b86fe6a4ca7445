"""GB/T 36904 e-license identifiers: the packaged vectors, the segments, the MOD 37,36 check
character, and a property test that every made identifier verifies and every single-character
change to one is caught."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.identifiers import (
    LICENSE_ID_ROOT,
    USCC_ALPHABET,
    LicenseId,
    is_valid_license_id,
    license_check_char,
    make_license_id,
    make_uscc,
    parse_license_id,
    validate_license_id,
)

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
VALID = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S"


def _vectors(kind: str) -> list[dict[str, Any]]:
    text = files("app.data").joinpath("test_vectors.json").read_text(encoding="utf-8")
    entries: list[dict[str, Any]] = json.loads(text)[kind]
    return entries


ALL_VECTORS = _vectors("e_license_id_valid") + _vectors("e_license_id_invalid_examples")


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda v: v["value"])
def test_vectors_parse_into_their_segments(vector: dict[str, Any]) -> None:
    parsed = parse_license_id(vector["value"])
    segments = vector["segments"]
    assert parsed == LicenseId(
        segments["license_type_code"],
        segments["issuer_code"],
        segments["license_number"],
        segments["version"],
        segments["check"],
    )
    assert str(parsed) == vector["value"]
    assert license_check_char(parsed.body) == vector["expected_check"]


@pytest.mark.parametrize("vector", _vectors("e_license_id_valid"), ids=lambda v: v["value"])
def test_valid_vectors_pass_and_are_made_again(vector: dict[str, Any]) -> None:
    assert validate_license_id(vector["value"]) == []
    assert is_valid_license_id(vector["value"])
    segments = vector["segments"]
    made = make_license_id(
        segments["license_type_code"],
        segments["issuer_code"],
        segments["license_number"],
        segments["version"],
    )
    assert made == vector["value"]


@pytest.mark.parametrize(
    "vector", _vectors("e_license_id_invalid_examples"), ids=lambda v: v["value"]
)
def test_invalid_vectors_fail_on_the_check_character_only(vector: dict[str, Any]) -> None:
    expected, written = vector["expected_check"], vector["segments"]["check"]
    assert validate_license_id(vector["value"]) == [
        f"the check character should be {expected}, not {written}"
    ]
    assert not is_valid_license_id(vector["value"])


def test_the_check_character_ignores_dots_and_case() -> None:
    body = "11100000000013338W011.11430000006122244L.20230000403.002"
    assert license_check_char(body) == license_check_char(body.replace(".", "").lower()) == "S"


@pytest.mark.parametrize("body", ["", "...", "ABC-1", "证照"])
def test_the_check_character_refuses_other_characters(body: str) -> None:
    with pytest.raises(ValueError, match="0-9 and A-Z"):
        license_check_char(body)


def test_lower_case_and_surrounding_space_are_accepted() -> None:
    assert validate_license_id(f"  {VALID.lower()}\n") == []
    assert parse_license_id(VALID.lower()).check == "S"


def test_an_integer_version_is_written_with_3_digits() -> None:
    made = make_license_id("11100000000013338W011", "11430000006122244L", "20230000403", 2)
    assert made == VALID


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2.2.156.3005.2.11100000000013338W011.430000.1.001.0", "starts with 1.2.156.3005.2."),
        ("1.2.156.3005.2.11100000000013338W011.430000.1.001", "5 segments after"),
        ("1.2.156.3005.2.11100000000013338W011.430000.1.001.0.0", "not 6"),
        ("1.2.156.3005.2.11100000000013338W011..1.001.0", "issuer code is empty"),
        ("", "starts with"),
    ],
)
def test_shape_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_license_id(value)
    [reason] = validate_license_id(value)
    assert message in reason


def _with(segment: int, text: str) -> str:
    parts = VALID.split(".")
    parts[5 + segment] = text
    return ".".join(parts)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_with(0, "11100000000013338W01"), "license type code must be 21 characters"),
        (_with(0, "11100000000013338X011"), "license type code: ministry credit code check"),
        (_with(0, "11100000000013338WA11"), "license type code: serial A11 must be 3 digits"),
        (_with(1, "11430000006122244M"), "issuer code: credit code check character should be L"),
        (_with(1, "43010"), "issuer code must be a credit code (18 characters) or a division"),
        (_with(1, "43010A"), "issuer code 43010A: a division code is 6 digits"),
        (_with(2, "2023-0403"), "license number: characters not allowed: -"),
        (_with(2, "1" * 65), "license number is longer than 64 characters"),
        (_with(3, "02"), "version 02 must be 3 digits"),
        (_with(3, "0X2"), "version 0X2 must be 3 digits"),
        (_with(4, "SS"), "check SS must be one character"),
        (_with(4, "-"), "check - must be one character"),
        (_with(4, "T"), "the check character should be S, not T"),
    ],
)
def test_each_error_names_the_wrong_part(value: str, expected: str) -> None:
    reasons = validate_license_id(value)
    assert any(reason.startswith(expected) for reason in reasons), reasons


def test_a_division_code_is_a_valid_issuer() -> None:
    made = make_license_id("11100000MB03271699022", "340100", "000000016", "001")
    assert made == "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9"


def test_several_wrong_parts_are_all_reported_and_the_check_only_when_they_are_right() -> None:
    value = _with(3, "1").replace("11430000006122244L", "11430000006122244M")
    assert validate_license_id(value) == [
        "issuer code: credit code check character should be L, not M",
        "version 1 must be 3 digits",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("11100000000013338W01", "430000", "1"), "license type code must be 21"),
        (("11100000000013338W011", "4300001", "1"), "issuer code must be"),
        (("11100000000013338W011", "430000", ""), "license number is empty"),
        (("11100000000013338W011", "430000", "A.B"), "characters not allowed: ."),
        (("11100000000013338W011", "430000", "1", 1000), "the version is 0..999"),
        (("11100000000013338W011", "430000", "1", "1"), "version 1 must be 3 digits"),
    ],
)
def test_make_refuses_wrong_parts(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_license_id(*args)


# Property: anything make_license_id writes verifies, and changing any one character of it to
# another character of the alphabet (or a digit where a digit must be) is caught.
_USCC_BODY = st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8)
_DIVISION = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)


@st.composite
def _credit_codes(draw: st.DrawFn) -> str:
    prefix = draw(st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2))
    return make_uscc(prefix, draw(_DIVISION), draw(_USCC_BODY))


@st.composite
def _license_ids(draw: st.DrawFn) -> str:
    type_code = draw(_credit_codes()) + f"{draw(st.integers(0, 999)):03d}"
    issuer = draw(st.one_of(_credit_codes(), _DIVISION))
    number = draw(st.text(alphabet=ALPHANUMERIC, min_size=1, max_size=40))
    return make_license_id(type_code, issuer, number, draw(st.integers(0, 999)))


@settings(max_examples=300)
@given(_license_ids())
def test_made_identifiers_verify(value: str) -> None:
    assert value.startswith(LICENSE_ID_ROOT + ".")
    assert validate_license_id(value) == []
    parsed = parse_license_id(value)
    assert str(parsed) == value


@settings(max_examples=500)
@given(_license_ids(), st.data())
def test_any_single_character_change_is_caught(value: str, data: st.DataObject) -> None:
    start = len(LICENSE_ID_ROOT) + 1
    positions = [i for i in range(start, len(value)) if value[i] != "."]
    position = data.draw(st.sampled_from(positions))
    replacement = data.draw(st.sampled_from([c for c in ALPHANUMERIC if c != value[position]]))
    changed = value[:position] + replacement + value[position + 1 :]
    assert validate_license_id(changed) != []
