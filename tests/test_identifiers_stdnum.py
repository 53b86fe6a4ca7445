"""GB 11643 ID numbers and GB 32100 credit codes against an independent implementation.

python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``) was written apart from
``app.core.identifiers``; random valid and broken inputs must get the same verdict and the same
check characters from both, except where the gateway decided otherwise, on purpose:

1. ID number, address code. stdnum looks the six digits up in its county database together with
   the years each code was in use, and compares them with the birth year; the gateway checks the
   province (the first two digits) only. A number is given at registration, not at birth, with the
   county code of that day, so the year test refuses real numbers: 430102195006011239 (芙蓉区,
   called 东区 from 1983, for someone born in 1950) and the standard's own sample
   440524188001010014 (born 1880) fail it, and so would a newborn of 2020 registered in 祁阳 after
   it became 431181. An ID number's existence is proven by real-name verification (assurance 2),
   not by its form, and a refused resident cannot register at all.
2. ID number, birth date. The gateway also refuses a date in the future or before 1800; stdnum
   takes any real date.
3. Input form. stdnum's ``compact`` turns full-width and other look-alike digits into ASCII and
   drops spaces and hyphens inside credit codes; the gateway takes the canonical ASCII form only
   (surrounding whitespace and lower-case letters allowed). Numbers are hashed for look-ups and
   shown back to people, so each has one spelling; clients normalise what people type.
4. Credit code, characters 1-2. stdnum wants digits; GB 32100 draws the registering department
   and the category from the code's alphabet, and letters occur (A: 中央军委改革和编制办公室;
   N: 农业, N1/N2/N3 the group, village and township collective economic organisations; Y: 其他),
   so the gateway allows any character of the alphabet there.
5. Credit code, character 17. The gateway also checks the GB 11714 check character of the
   organisation code (characters 9-17); stdnum does not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from app.core.divisions import divisions
from app.core.identifiers import (
    PROVINCE_PREFIXES,
    USCC_ALPHABET,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

TODAY = date(2026, 12, 1)
PROPERTY = settings(max_examples=300, deadline=None)
DIGITS = "0123456789"
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIVISIONS = sorted(divisions())  # real GB/T 2260 codes, as the gateway knows them
# The provinces by stdnum's own database, so decision 1 is judged independently of ours.
STDNUM_PROVINCES = frozenset(
    f"{n:02d}"
    for n in range(100)
    if any(props.get("province") for _, props in numdb.get("cn/loc").info(f"{n:02d}0000"))
)
# What a mutation may put in: digits, the check letters, letters outside the alphabets, ASCII
# punctuation and space, and non-ASCII look-alikes (full-width digits, a ligature that upper()s
# into two letters, an ideographic space).
NOISE = DIGITS + "XxYyNnIOZSVaz -/.*" + "０１９Ｘ" + "ﬀ" + "\u3000"


def stdnum_verdict(validate: Callable[[str], str], value: str) -> str:
    """stdnum's verdict: 'valid' or the name of the exception it raised."""
    try:
        validate(value)
    except ValidationError as exc:
        return type(exc).__name__
    except KeyError:
        # python-stdnum 2.2 raises KeyError('county') (from is_valid too) for an address code
        # in a known province whose county its database lacks (430001…): its "unknown place".
        return InvalidComponent.__name__
    return "valid"


# --- GB 11643 resident ID numbers ---------------------------------------------------------------


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    """Mostly well-formed numbers (real and made-up addresses, real and impossible dates), some
    with the wrong check character, some with a character replaced, cased or padded."""
    address = draw(
        st.one_of(
            st.sampled_from(DIVISIONS),  # real Hunan codes, as the gateway issues
            st.builds(
                lambda p, r: p + r,
                st.sampled_from(sorted(PROVINCE_PREFIXES)),
                st.text(DIGITS, min_size=4, max_size=4),
            ),
            st.text(DIGITS, min_size=6, max_size=6),
        )
    )
    birth = draw(
        st.one_of(
            st.dates(date(1790, 1, 1), date(2030, 12, 31)).map(lambda d: f"{d:%Y%m%d}"),
            st.text(DIGITS, min_size=8, max_size=8),
        )
    )
    body = address + birth + draw(st.text(DIGITS, min_size=3, max_size=3))
    check = draw(st.one_of(st.just(resident_id_check_char(body)), st.sampled_from("0123456789Xx")))
    number = body + check
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(number) - 1))
        number = number[:at] + draw(st.sampled_from(NOISE)) + number[at + 1 :]
    if draw(st.booleans()):
        number = draw(st.sampled_from(["", " ", "\t"])) + number + draw(st.sampled_from(["", " "]))
    return number


def _real_date(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


@PROPERTY
@given(st.text(DIGITS, min_size=17, max_size=17))
def test_resident_id_check_characters_agree(body: str) -> None:
    assert resident_id_check_char(body) == ric.calc_check_digit(body + "0")


@PROPERTY
@given(resident_ids())
def test_resident_id_verdicts_agree(value: str) -> None:
    theirs = stdnum_verdict(ric.validate, value)
    ours = validate_resident_id(value, today=TODAY)
    number = value.strip().upper()
    if not number.isascii():
        # Decision 3: a full-width digit or an ideographic space is no part of an ID number here.
        assert ours
        return
    assert any("check digit" in r for r in ours) is (theirs == InvalidChecksum.__name__)
    if theirs not in ("valid", InvalidComponent.__name__):
        assert ours, f"stdnum refuses {value!r} ({theirs}); the gateway accepts it"
        return
    birth = _real_date(number[6:14])
    expected = (
        birth is not None
        and date(1800, 1, 1) <= birth <= TODAY  # decision 2
        and number[:2] in STDNUM_PROVINCES  # decision 1: the province, not the county
    )
    assert (ours == []) is expected, (value, theirs, ours)


def test_the_provinces_are_stdnums() -> None:
    assert PROVINCE_PREFIXES == STDNUM_PROVINCES  # the 34 provincial-level divisions


def test_resident_id_disagreements_are_the_decided_ones() -> None:
    # 1: stdnum dates 芙蓉区's code from 1983 and so refuses everyone born there before.
    assert stdnum_verdict(ric.validate, "430102195006011239") == "InvalidComponent"
    assert is_valid_resident_id("430102195006011239", today=TODAY)
    assert stdnum_verdict(ric.validate, "440524188001010014") == "InvalidComponent"
    assert is_valid_resident_id("440524188001010014", today=TODAY)
    # 2: a birth date in the future.
    future = make_resident_id("430102", date(2027, 1, 1), 123)
    assert ric.is_valid(future)
    assert not is_valid_resident_id(future, today=TODAY)
    # 3: full-width digits, which stdnum reads as ASCII.
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "430121195006011238")
    assert ric.is_valid(full_width)
    assert is_valid_resident_id("430121195006011238", today=TODAY)
    assert not is_valid_resident_id(full_width, today=TODAY)


# --- GB 32100 unified social credit codes --------------------------------------------------------


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    """Credit codes with digits or letters in front, right or wrong check characters, some with a
    character replaced (letters outside the alphabet included), cased or padded."""
    front = draw(
        st.one_of(
            st.sampled_from(
                ["91", "92", "93", "11", "12", "51", "52", "53", "Y1", "N2", "N3", "A1"]
            ),
            st.text(USCC_ALPHABET, min_size=2, max_size=2),
        )
    )
    division = draw(
        st.one_of(
            st.sampled_from(DIVISIONS),
            st.text(DIGITS, min_size=6, max_size=6),
            st.text(USCC_ALPHABET, min_size=6, max_size=6),
        )
    )
    # Mostly within the credit code's alphabet; GB 11714 alone also has I, O, Z, S and V.
    org_body = draw(
        st.one_of(
            st.text(USCC_ALPHABET, min_size=8, max_size=8),
            st.text(ORG_ALPHABET, min_size=8, max_size=8),
        )
    )
    org_check = draw(
        st.one_of(st.just(org_code_check_char(org_body)), st.sampled_from(ORG_ALPHABET))
    )
    first17 = front + division + org_body + org_check
    choices: list[st.SearchStrategy[str]] = [st.sampled_from(USCC_ALPHABET)]
    if all(c in USCC_ALPHABET for c in first17):  # else no check character can make it valid
        choices.append(st.just(uscc.calc_check_digit(first17)))  # stdnum's: independent of ours
    check: str = draw(st.one_of(*choices))
    code = first17 + check
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(code) - 1))
        code = code[:at] + draw(st.sampled_from(NOISE)) + code[at + 1 :]
    if draw(st.booleans()):
        code = code.lower()
    if draw(st.booleans()):
        code = " " + code + " "
    return code


@PROPERTY
@given(st.text(USCC_ALPHABET, min_size=17, max_size=17))
def test_credit_code_check_characters_agree(first17: str) -> None:
    assert uscc_check_char(first17) == uscc.calc_check_digit(first17)


@PROPERTY
@given(credit_codes())
def test_credit_code_verdicts_agree(value: str) -> None:
    theirs = stdnum_verdict(uscc.validate, value)
    ours = validate_uscc(value)
    code = value.strip().upper()
    if not code.isascii() or any(c in " -" for c in code):
        # Decision 3: only the canonical form; stdnum maps look-alikes and drops separators.
        if ours == []:
            assert theirs == "valid"  # e.g. 'ﬀ' upper-cases to 'FF' in both
        return
    well_formed = (
        len(code) == 18
        and all(c in USCC_ALPHABET for c in code)
        and code[2:8].isdigit()
        and code[16] == org_code_check_char(code[8:16])  # decision 5
    )
    if code[:2].isdigit():
        assert (ours == []) is (theirs == "valid" and well_formed), (value, theirs, ours)
    else:
        # Decision 4: letters in front are GB 32100's; stdnum refuses the form before checking.
        assert theirs in ("InvalidFormat", "InvalidLength")
        agreed = well_formed and uscc.calc_check_digit(code) == code[17]
        assert (ours == []) is agreed, (value, ours)


@pytest.mark.parametrize("code", ["N2430121MA4L0G9X8H", "A1100000MA0000001E"])
def test_credit_codes_with_letters_in_front(code: str) -> None:
    """Decision 4, on codes built like those of collective and army organisations."""
    first17 = code[:8] + code[8:16] + org_code_check_char(code[8:16])
    code = first17 + uscc_check_char(first17)
    assert is_valid_uscc(code)
    assert stdnum_verdict(uscc.validate, code) == "InvalidFormat"
    assert uscc.calc_check_digit(code) == code[17]
