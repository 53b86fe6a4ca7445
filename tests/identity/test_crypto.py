"""DataCipher: AES-GCM bound to a context, HKDF subkeys, look-up hashes, pairwise subjects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.identity.crypto import DataCipher, DecryptionError

MASTER = bytes(range(32))
ID_NUMBER = "430121199912124865"
CONTEXT = "persons.id_number:17"


def hkdf(info: bytes) -> bytes:
    """The subkey the module should derive, computed independently with cryptography's HKDF."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"xyb-gateway/data-cipher", info=info
    ).derive(MASTER)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher(MASTER)


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_master_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        DataCipher(b"k" * size)


def test_master_key_must_be_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataCipher("k" * 32)  # type: ignore[arg-type]


def test_generated_text_is_43_base64url_characters_and_random() -> None:
    first, second = DataCipher.generate_text(), DataCipher.generate_text()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)
    assert first != second
    assert len(b64url_decode(first)) == 32


def test_from_text_accepts_padding_and_whitespace() -> None:
    text = base64.urlsafe_b64encode(MASTER).decode()
    assert text.endswith("=")
    token = DataCipher(MASTER).encrypt("x", context="c")
    for form in (text, text.rstrip("="), f"  {text.rstrip('=')}\n"):
        assert DataCipher.from_text(form).decrypt(token, context="c") == "x"


def test_from_text_of_a_generated_key_round_trips() -> None:
    text = DataCipher.generate_text()
    token = DataCipher.from_text(text).encrypt("值", context="c")
    assert DataCipher.from_text(text).decrypt(token, context="c") == "值"


@pytest.mark.parametrize(
    "text",
    [
        base64.urlsafe_b64encode(b"k" * 16).decode(),  # 16 bytes
        base64.urlsafe_b64encode(b"k" * 31).decode(),
        base64.urlsafe_b64encode(b"k" * 33).decode(),
        base64.urlsafe_b64encode(b"k" * 48).decode(),
    ],
)
def test_from_text_names_the_wrong_length(text: str) -> None:
    with pytest.raises(ValueError, match=r"must decode to 32 bytes .* not \d+ bytes") as info:
        DataCipher.from_text(text)
    assert text.rstrip("=") not in str(info.value)  # the key text is never echoed


@pytest.mark.parametrize("text", ["", "   ", "not base64!", "a+b/" * 11, "Zm9v===", "é" * 43])
def test_from_text_refuses_what_is_not_base64url(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        DataCipher.from_text(text)


def test_repr_shows_no_key_material(cipher: DataCipher) -> None:
    assert repr(cipher) == "DataCipher(<secret>)"
    assert not hasattr(cipher, "__dict__")  # slots: nothing else hangs off it


# --- encryption ------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["", ID_NUMBER, "张三 13812345678", "x" * 10_000])
def test_round_trip(cipher: DataCipher, plaintext: str) -> None:
    token = cipher.encrypt(plaintext, context=CONTEXT)
    assert cipher.decrypt(token, context=CONTEXT) == plaintext


def test_token_format_is_versioned_ascii_base64url(cipher: DataCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    assert token.isascii()
    assert re.fullmatch(r"v1\.[A-Za-z0-9_-]+", token)
    raw = b64url_decode(token[3:])
    assert len(raw) == 12 + len(ID_NUMBER) + 16  # nonce, ciphertext, tag
    assert ID_NUMBER not in token


def test_same_plaintext_encrypts_differently(cipher: DataCipher) -> None:
    tokens = {cipher.encrypt(ID_NUMBER, context=CONTEXT) for _ in range(20)}
    assert len(tokens) == 20
    nonces = {b64url_decode(token[3:])[:12] for token in tokens}
    assert len(nonces) == 20


def test_encryption_is_aes_gcm_under_the_hkdf_subkey_with_the_context_as_aad(
    cipher: DataCipher,
) -> None:
    raw = b64url_decode(cipher.encrypt(ID_NUMBER, context=CONTEXT)[3:])
    aead = AESGCM(hkdf(b"xyb/v1/encrypt"))
    plain = aead.decrypt(raw[:12], raw[12:], b"xyb/v1\x00" + CONTEXT.encode())
    assert plain.decode() == ID_NUMBER
    with pytest.raises(InvalidTag):  # the master key itself never encrypts
        AESGCM(MASTER).decrypt(raw[:12], raw[12:], b"xyb/v1\x00" + CONTEXT.encode())


def test_ciphertext_moved_to_another_context_does_not_decrypt(cipher: DataCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context="persons.id_number:17")
    for other in ("persons.id_number:18", "persons.phone:17", "persons.id_number:17 ", "x"):
        with pytest.raises(DecryptionError, match="another context"):
            cipher.decrypt(token, context=other)


def test_another_key_does_not_decrypt(cipher: DataCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    other = DataCipher(bytes(32))
    with pytest.raises(DecryptionError):
        other.decrypt(token, context=CONTEXT)


def test_every_flipped_byte_is_detected(cipher: DataCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    raw = b64url_decode(token[3:])
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        text = "v1." + base64.urlsafe_b64encode(bytes(tampered)).rstrip(b"=").decode()
        with pytest.raises(DecryptionError):
            cipher.decrypt(text, context=CONTEXT)


def test_truncated_and_extended_tokens_are_refused(cipher: DataCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    for text in (token[:-1], token[:-4], token + "A", token + "AAAA", token[:20]):
        with pytest.raises(DecryptionError):
            cipher.decrypt(text, context=CONTEXT)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "v1.",
        "v1",
        "v2." + "A" * 60,
        "V1." + "A" * 60,
        "v1.!!!!",
        "v1.AAAA AAAA",
        "v1.A",
        "v1." + "A" * 37,  # 27 bytes: shorter than a nonce and a tag
        "v1." + "A" * 60,  # right shape, not a ciphertext
        "v1.中文",
        ID_NUMBER,
    ],
)
def test_garbage_raises_decryption_error(cipher: DataCipher, garbage: str) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt(garbage, context=CONTEXT)


def test_non_string_token_raises_decryption_error(cipher: DataCipher) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt(b"v1.AAAA", context=CONTEXT)  # type: ignore[arg-type]


def test_decryption_error_is_a_value_error() -> None:
    assert issubclass(DecryptionError, ValueError)


def test_an_empty_context_is_refused(cipher: DataCipher) -> None:
    with pytest.raises(ValueError, match="context is required"):
        cipher.encrypt(ID_NUMBER, context="")


# --- look-up hashes --------------------------------------------------------------------------


def test_lookup_hash_is_hmac_sha256_under_a_subkey_per_purpose(cipher: DataCipher) -> None:
    value = cipher.lookup_hash(ID_NUMBER, purpose="id_number")
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    expected = hmac.new(hkdf(b"xyb/v1/lookup\x00id_number"), ID_NUMBER.encode(), hashlib.sha256)
    assert value == expected.hexdigest()
    assert value != hmac.new(MASTER, ID_NUMBER.encode(), hashlib.sha256).hexdigest()


def test_lookup_hash_is_stable_and_differs_by_purpose_and_key(cipher: DataCipher) -> None:
    same = DataCipher(MASTER).lookup_hash(ID_NUMBER, purpose="id_number")
    assert cipher.lookup_hash(ID_NUMBER, purpose="id_number") == same
    assert cipher.lookup_hash(ID_NUMBER, purpose="phone") != same
    assert DataCipher(bytes(32)).lookup_hash(ID_NUMBER, purpose="id_number") != same
    assert cipher.lookup_hash(ID_NUMBER[:-1] + "6", purpose="id_number") != same


def test_lookup_hash_hashes_the_value_as_given(cipher: DataCipher) -> None:
    lower = cipher.lookup_hash("43012119991212486x", purpose="id_number")
    upper = cipher.lookup_hash("43012119991212486X", purpose="id_number")
    assert lower != upper  # normalising is the caller's job


def test_lookup_hash_needs_a_purpose(cipher: DataCipher) -> None:
    with pytest.raises(ValueError, match="purpose"):
        cipher.lookup_hash(ID_NUMBER, purpose="")


def test_subkeys_are_independent(cipher: DataCipher) -> None:
    subkeys = {
        hkdf(b"xyb/v1/encrypt"),
        hkdf(b"xyb/v1/pairwise"),
        hkdf(b"xyb/v1/lookup\x00id_number"),
        hkdf(b"xyb/v1/lookup\x00phone"),
        MASTER,
    }
    assert len(subkeys) == 5


# --- pairwise subjects -----------------------------------------------------------------------


def test_pairwise_is_stable_and_well_formed(cipher: DataCipher) -> None:
    value = cipher.pairwise("p:123", "430100/zwfw")
    assert re.fullmatch(r"[a-z2-7]{32}", value)
    assert DataCipher(MASTER).pairwise("p:123", "430100/zwfw") == value


def test_pairwise_differs_per_audience_and_subject(cipher: DataCipher) -> None:
    audiences = ["430100/zwfw", "430100/gjj", "430200/zwfw", "440000/yss"]
    per_audience = {cipher.pairwise("p:123", audience) for audience in audiences}
    assert len(per_audience) == len(audiences)
    assert cipher.pairwise("p:124", "430100/zwfw") != cipher.pairwise("p:123", "430100/zwfw")


def test_pairwise_encoding_is_unambiguous(cipher: DataCipher) -> None:
    assert cipher.pairwise("p:1", "23/x") != cipher.pairwise("p:12", "3/x")
    assert cipher.pairwise("", "ab") != cipher.pairwise("a", "b")


def test_pairwise_depends_on_the_key(cipher: DataCipher) -> None:
    assert DataCipher(bytes(32)).pairwise("p:123", "a") != cipher.pairwise("p:123", "a")


def test_pairwise_uses_its_own_subkey(cipher: DataCipher) -> None:
    digest = hmac.new(
        hkdf(b"xyb/v1/pairwise"),
        len(b"p:123").to_bytes(4, "big") + b"p:123" + len(b"aud").to_bytes(4, "big") + b"aud",
        hashlib.sha256,
    ).digest()
    assert cipher.pairwise("p:123", "aud") == base64.b32encode(digest[:20]).decode().lower()
