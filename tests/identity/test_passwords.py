"""Password hashing: argon2id, never raising on bad input, re-hash detection, the dummy burn."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from app.identity import passwords
from app.identity.passwords import (
    burn_verification,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hash_is_argon2id_with_the_documented_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    parameters = extract_parameters(stored)
    assert parameters.type is Type.ID
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 19456, 1)
    assert (parameters.salt_len, parameters.hash_len) == (16, 32)
    assert PASSWORD not in stored


def test_each_hash_has_its_own_salt(stored: str) -> None:
    again = hash_password(PASSWORD)
    assert again != stored
    assert verify_password(again, PASSWORD)


def test_the_right_password_verifies(stored: str) -> None:
    assert verify_password(stored, PASSWORD) is True


@pytest.mark.parametrize(
    "attempt", ["", "correct horse battery stapl", PASSWORD.upper(), PASSWORD + " ", "密码"]
)
def test_a_wrong_password_is_false(stored: str, attempt: str) -> None:
    assert verify_password(stored, attempt) is False


def test_unicode_passwords_work() -> None:
    stored = hash_password("湘易办 密码 ✓")
    assert verify_password(stored, "湘易办 密码 ✓")
    assert not verify_password(stored, "湘易办 密码")


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "x",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$中文$中文",
        "\x00" * 10,
    ],
)
def test_a_malformed_stored_hash_is_false_not_an_exception(malformed: str) -> None:
    assert verify_password(malformed, PASSWORD) is False
    assert needs_rehash(malformed) is True


def test_a_truncated_stored_hash_is_false(stored: str) -> None:
    assert verify_password(stored[:-5], PASSWORD) is False


def test_an_unencodable_password_is_false(stored: str) -> None:
    assert verify_password(stored, "\ud800") is False  # a lone surrogate


def test_a_fresh_hash_needs_no_rehash(stored: str) -> None:
    assert needs_rehash(stored) is False


@pytest.mark.parametrize(
    ("time_cost", "memory_cost", "parallelism"),
    [(1, 19456, 1), (2, 8192, 1), (2, 19456, 2), (3, 65536, 1)],
)
def test_other_parameters_need_a_rehash_but_still_verify(
    time_cost: int, memory_cost: int, parallelism: int
) -> None:
    old = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
    ).hash(PASSWORD)
    assert needs_rehash(old) is True
    assert verify_password(old, PASSWORD) is True


def test_argon2i_hashes_need_a_rehash() -> None:
    old = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I).hash(PASSWORD)
    assert verify_password(old, PASSWORD) is True
    assert needs_rehash(old) is True


def test_the_dummy_hash_costs_what_a_real_verification_costs() -> None:
    # Same parameters as a real hash, so burn_verification spends the same time (no timing here:
    # the equality of the work is what is checked).
    dummy = passwords._DUMMY_HASH
    assert needs_rehash(dummy) is False
    assert extract_parameters(dummy) == extract_parameters(hash_password(PASSWORD))


def test_burn_verification_verifies_against_the_dummy_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str, bool]] = []

    def spy(stored: str, password: str) -> bool:
        result = verify_password(stored, password)
        seen.append((stored, password, result))
        return result

    monkeypatch.setattr(passwords, "verify_password", spy)
    burn_verification("anything")
    assert seen == [(passwords._DUMMY_HASH, "anything", False)]


@pytest.mark.parametrize("password", ["", "x" * 4096, "\ud800", "密码"])
def test_burn_verification_never_raises(password: str) -> None:
    burn_verification(password)
