"""Personal and organisational identifiers: GB 11643 resident ID numbers, GB 32100 credit codes,
GB/T 36904 e-license identifiers.

Validators return a list of plain-English reasons (empty = valid), so a caller can show every
problem at once; ``make_*`` functions compute the check characters; ``mask_*`` hide personal data.
The shapes of personal numbers in free text (``RESIDENT_ID_SHAPE``, ``MOBILE_SHAPE``,
:func:`personal_number_in`) are the one definition the log formatter's masking and the request-id
check share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# GB 11643-1999: weights of the first 17 digits, and the check character indexed by sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The 34 provincial-level divisions (GB/T 2260): 31 provinces, Taiwan, Hong Kong, Macao.
_PROVINCE_CODES = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82"
)
PROVINCE_PREFIXES = frozenset(_PROVINCE_CODES.split())
# GB 11643 numbers exist for people born in the 1800s (the standard's own sample: 1880).
EARLIEST_BIRTH = date(1800, 1, 1)

# GB 32100-2015: the 31-character alphabet (no I, O, Z, S, V) and the weights 3^i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714: the organisation code (characters 9-17) over the full alphabet 0-9A-Z.
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def normalise_resident_id(value: str) -> str:
    """The ID number as stored: surrounding whitespace removed, a lower-case ``x`` upper-cased."""
    return value.strip().upper()


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("a resident ID number's body is 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def resident_birth_date(value: str) -> date | None:
    """The birth date a resident ID number carries (GB 11643); None when it is not valid."""
    if validate_resident_id(value):
        return None
    return _birth_date(normalise_resident_id(value)[6:14])


def validate_resident_id(value: str, *, today: date | None = None) -> list[str]:
    """Why ``value`` is not a valid resident ID number (GB 11643); empty when it is valid."""
    number = normalise_resident_id(value)
    if len(number) != 18:
        return [f"must be 18 characters long, not {len(number)}"]
    body, check = number[:17], number[17]
    if not (body.isascii() and body.isdigit()):
        return ["the first 17 characters must be digits"]
    reasons: list[str] = []
    if number[:2] not in PROVINCE_PREFIXES:
        reasons.append(f"address code {number[:6]} is not in a known province ({number[:2]})")
    birth = _birth_date(number[6:14])
    limit = today or date.today()
    if birth is None:
        reasons.append(f"birth date {number[6:14]} is not a real date")
    elif birth > limit:
        reasons.append(f"birth date {birth.isoformat()} is in the future")
    elif birth < EARLIEST_BIRTH:
        reasons.append(f"birth date {birth.isoformat()} is before 1800")
    expected = resident_id_check_char(body)
    if check != expected:
        reasons.append(f"check digit should be {expected}, not {check}")
    return reasons


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    """Whether ``value`` is a valid resident ID number."""
    return not validate_resident_id(value, today=today)


def make_resident_id(address_code: str, birth: date, sequence: int) -> str:
    """A resident ID number: 6-digit address code, birth date, 3-digit sequence, check character."""
    if len(address_code) != 6 or not address_code.isdigit():
        raise ValueError("the address code is 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("the sequence is 0..999 (odd for men, even for women)")
    body = f"{address_code}{birth:%Y%m%d}{sequence:03d}"
    return body + resident_id_check_char(body)


def mask_resident_id(value: str) -> str:
    """The ID number with all but the first 4 and last 4 characters hidden."""
    number = normalise_resident_id(value)
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(value: str) -> str:
    """A mobile number with the middle four digits hidden (``138****5678``)."""
    phone = value.strip()
    if len(phone) != 11:
        return phone[:3] + "*" * max(len(phone) - 3, 0)
    return phone[:3] + "****" + phone[7:]


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(body8) != 8 or any(char not in _ORG_ALPHABET for char in body8):
        raise ValueError("an organisation code body is 8 characters of 0-9A-Z")
    total = sum(
        _ORG_ALPHABET.index(char) * weight for char, weight in zip(body8, _ORG_WEIGHTS, strict=True)
    )
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a credit code."""
    if len(first17) != 17 or any(char not in USCC_ALPHABET for char in first17):
        raise ValueError("a credit code's body is 17 characters of the GB 32100 alphabet")
    total = sum(
        USCC_ALPHABET.index(char) * weight
        for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> list[str]:
    """Why ``value`` is not a valid unified social credit code (GB 32100); empty if valid."""
    code = value.strip().upper()
    if len(code) != 18:
        return [f"must be 18 characters long, not {len(code)}"]
    wrong = sorted({char for char in code if char not in USCC_ALPHABET})
    if wrong:
        return [f"characters not allowed in a credit code: {''.join(wrong)}"]
    reasons: list[str] = []
    if not code[2:8].isdigit():
        reasons.append(f"division code {code[2:8]} must be 6 digits")
    org_check = org_code_check_char(code[8:16])
    if code[16] != org_check:
        reasons.append(f"organisation code check (GB 11714) should be {org_check}, not {code[16]}")
    check = uscc_check_char(code[:17])
    if code[17] != check:
        reasons.append(f"check character should be {check}, not {code[17]}")
    return reasons


def is_valid_uscc(value: str) -> bool:
    """Whether ``value`` is a valid unified social credit code."""
    return not validate_uscc(value)


def make_uscc(prefix2: str, division: str, org_body8: str) -> str:
    """A credit code: department and category, division, organisation code body, both checks."""
    if len(prefix2) != 2 or any(char not in USCC_ALPHABET for char in prefix2):
        raise ValueError("the prefix is 2 characters (registering department, category)")
    if len(division) != 6 or not division.isdigit():
        raise ValueError("the division is a 6-digit GB/T 2260 code")
    org_check = org_code_check_char(org_body8)
    first17 = f"{prefix2}{division}{org_body8}{org_check}"
    return first17 + uscc_check_char(first17)


# GB/T 36904-2018 e-license identifiers (证照标识): the root OID, then five dot-separated segments.
LICENSE_ID_ROOT = "1.2.156.3005.2"
# ISO/IEC 7064 MOD 37,36 works over 0-9A-Z; the license number uses the same alphabet.
_MOD37_36_ALPHABET = _ORG_ALPHABET
LICENSE_NUMBER_MAX = 64
_LICENSE_SEGMENTS = ("license type code", "issuer code", "license number", "version", "check")


@dataclass(frozen=True, slots=True)
class LicenseId:
    """The five segments of an e-license identifier, as written (upper case)."""

    license_type_code: str  # the issuing ministry's 18-character credit code + a 3-digit serial
    issuer_code: str  # the issuing body's credit code (18) or its GB/T 2260 division (6 digits)
    license_number: str
    version: str  # 3 digits
    check: str  # ISO/IEC 7064 MOD 37,36 over the four segments before it, without dots

    @property
    def body(self) -> str:
        """The characters the check character covers: the four segments joined without dots."""
        return self.license_type_code + self.issuer_code + self.license_number + self.version

    def __str__(self) -> str:
        parts = (self.license_type_code, self.issuer_code, self.license_number, self.version)
        return ".".join((LICENSE_ID_ROOT, *parts, self.check))


def parse_license_id(value: str) -> LicenseId:
    """Split an e-license identifier into its segments (upper-cased); ValueError if it does not
    have the shape ``1.2.156.3005.2.<type>.<issuer>.<number>.<version>.<check>``.

    Only the shape is checked (root, five non-empty segments); :func:`validate_license_id` judges
    the contents.
    """
    text = value.strip().upper()
    root = LICENSE_ID_ROOT + "."
    if not text.startswith(root):
        raise ValueError(f"an e-license identifier starts with {root}")
    segments = text[len(root) :].split(".")
    if len(segments) != len(_LICENSE_SEGMENTS):
        raise ValueError(
            f"an e-license identifier has 5 segments after {LICENSE_ID_ROOT} "
            f"(license type code, issuer code, license number, version, check), not {len(segments)}"
        )
    for name, segment in zip(_LICENSE_SEGMENTS, segments, strict=True):
        if not segment:
            raise ValueError(f"the {name} is empty")
    return LicenseId(*segments)


def license_check_char(body: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``body`` (characters 0-9A-Z, dots ignored):
    the segments after the root of an e-license identifier."""
    text = body.replace(".", "").upper()
    if not text or any(char not in _MOD37_36_ALPHABET for char in text):
        raise ValueError("the check character covers a non-empty string of 0-9 and A-Z")
    product = 36
    for char in text:
        product = (product + _MOD37_36_ALPHABET.index(char)) % 36 or 36
        product = product * 2 % 37
    return _MOD37_36_ALPHABET[(1 - product) % 36]


def _license_type_code_problems(code: str) -> list[str]:
    if len(code) != 21:
        return [
            f"license type code must be 21 characters (credit code + 3 digits), not {len(code)}"
        ]
    reasons = [
        f"license type code: ministry credit code {reason}" for reason in validate_uscc(code[:18])
    ]
    if not code[18:].isdigit():
        reasons.append(f"license type code: serial {code[18:]} must be 3 digits")
    return reasons


def _issuer_code_problems(code: str) -> list[str]:
    if len(code) == 6:
        return [] if code.isdigit() else [f"issuer code {code}: a division code is 6 digits"]
    if len(code) == 18:
        return [f"issuer code: credit code {reason}" for reason in validate_uscc(code)]
    return [
        f"issuer code must be a credit code (18 characters) or a division code (6 digits), "
        f"not {len(code)} characters"
    ]


def _license_number_problems(number: str) -> list[str]:
    if len(number) > LICENSE_NUMBER_MAX:
        return [f"license number is longer than {LICENSE_NUMBER_MAX} characters"]
    wrong = sorted({char for char in number if char not in _MOD37_36_ALPHABET})
    if wrong:
        return [f"license number: characters not allowed: {''.join(wrong)} (only 0-9 and A-Z)"]
    return []


def validate_license_id(value: str) -> list[str]:
    """Why ``value`` is not a valid GB/T 36904 e-license identifier; empty when it is valid.

    Each reason names the segment that is wrong; a wrong check character is reported as
    ``the check character should be S, not X`` (only when the other segments are well-formed).
    """
    try:
        parsed = parse_license_id(value)
    except ValueError as error:
        return [str(error)]
    reasons = _license_type_code_problems(parsed.license_type_code)
    reasons += _issuer_code_problems(parsed.issuer_code)
    reasons += _license_number_problems(parsed.license_number)
    if len(parsed.version) != 3 or not parsed.version.isdigit():
        reasons.append(f"version {parsed.version} must be 3 digits")
    if len(parsed.check) != 1 or parsed.check not in _MOD37_36_ALPHABET:
        reasons.append(f"check {parsed.check} must be one character of 0-9 and A-Z")
    elif not reasons:  # with another segment wrong, "the check should be ..." would mislead
        expected = license_check_char(parsed.body)
        if parsed.check != expected:
            reasons.append(f"the check character should be {expected}, not {parsed.check}")
    return reasons


def is_valid_license_id(value: str) -> bool:
    """Whether ``value`` is a valid e-license identifier."""
    return not validate_license_id(value)


def make_license_id(
    license_type_code: str, issuer_code: str, license_number: str, version: int | str = 1
) -> str:
    """An e-license identifier with its check character; ValueError naming the wrong segment.

    ``license_type_code`` is the ministry's credit code + 3-digit serial, ``issuer_code`` the
    issuing body's credit code or 6-digit division code, ``version`` 1..999 (or 3 digits).
    """
    version_text = f"{version:03d}" if isinstance(version, int) else version
    if isinstance(version, int) and not 0 <= version <= 999:
        raise ValueError("the version is 0..999")
    parts = (license_type_code.upper(), issuer_code.upper(), license_number.upper(), version_text)
    if not parts[2]:
        raise ValueError("the license number is empty")
    body = "".join(parts)
    reasons = _license_type_code_problems(parts[0]) + _issuer_code_problems(parts[1])
    reasons += _license_number_problems(parts[2])
    if len(version_text) != 3 or not version_text.isdigit():
        reasons.append(f"version {version_text} must be 3 digits")
    if reasons:
        raise ValueError("; ".join(reasons))
    return ".".join((LICENSE_ID_ROOT, *parts, license_check_char(body)))


# A GB 11643 number (address code, a birth date from 1800 to 2099, sequence, check character) and
# a mainland mobile number, as they appear in free text.
RESIDENT_ID_SHAPE = (
    r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
)
MOBILE_SHAPE = r"1[3-9]\d{9}"
# Every position, overlapping: a number may start one digit into another's shape.
_RESIDENT_ID_ANYWHERE = re.compile(f"(?=({RESIDENT_ID_SHAPE}))")
_MOBILE_ANYWHERE = re.compile(MOBILE_SHAPE)


def personal_number_in(text: str) -> str | None:
    """``"phone"`` or ``"id_number"`` when ``text`` holds a mobile number or an ID number with a
    right check character anywhere, whatever is around it (letters included); else None."""
    if _MOBILE_ANYWHERE.search(text):
        return "phone"
    for match in _RESIDENT_ID_ANYWHERE.finditer(text):
        number = match.group(1).upper()
        try:
            right = resident_id_check_char(number[:17]) == number[17]
        except ValueError:  # digits outside ASCII: judged as a number all the same
            right = True
        if right:
            return "id_number"
    return None
