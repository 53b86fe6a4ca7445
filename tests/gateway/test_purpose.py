"""``Xyb-Purpose`` as the gateway reads it: UTF-8 raw or percent-encoded, checked either way."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.gateway.purpose import BadPurpose, stated_purpose


def purpose(value: bytes) -> str | None:
    return stated_purpose([(b"xyb-purpose", value)])


def test_raw_utf8_and_percent_encoded_utf8_are_the_same_purpose() -> None:
    text = "办理公积金贷款：核验身份"
    assert purpose(text.encode("utf-8")) == text
    assert purpose(quote(text, safe="").encode("ascii")) == text
    assert purpose(quote(text).lower().encode("ascii")) == text  # %e5 as well as %E5


def test_a_percent_that_is_not_a_utf8_escape_is_literal() -> None:
    assert purpose(b"100% sure") == "100% sure"
    assert purpose(b"%FF%FE") == "%FF%FE"  # escapes, but not of UTF-8: read as written
    assert purpose("开户 %E5".encode()) == "开户 %E5"  # not ASCII: never decoded


@pytest.mark.parametrize("encoded", [b"%0A", b"why%09not", b"why%E2%80%AE"])
def test_what_the_escapes_hide_is_checked_like_raw_text(encoded: bytes) -> None:
    with pytest.raises(BadPurpose):
        purpose(encoded)


def test_the_length_counts_decoded_characters() -> None:
    assert purpose(quote("查" * 200).encode("ascii")) == "查" * 200
    with pytest.raises(BadPurpose):
        purpose(quote("查" * 201).encode("ascii"))
