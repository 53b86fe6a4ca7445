"""SD-JWT issue / present / verify, every refusal, and a check by an independent implementation."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto.jwk import JWK
from jwcrypto.jws import InvalidJWSSignature
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from app.connectors.elicense import sdjwt
from app.connectors.elicense.sdjwt import (
    Disclosure,
    SdJwtInvalid,
    issue,
    make_disclosure,
    present,
    verify,
)
from app.identity.keys import KeyRing, SigningKey, generate_key, public_key_from_jwk

NOW = 1_790_000_000.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = generate_key(T0)
OTHER = generate_key(T0)
RING = KeyRing([KEY])

VISIBLE: dict[str, Any] = {
    "iss": "https://xyb.hunan.gov.cn",
    "iat": int(NOW),
    "exp": int(NOW) + 300,
    "jti": "p-1",
    "vct": "urn:xyb:elicense:jsz",
}
FIELDS: dict[str, Any] = {
    "name": "张三",
    "number": "430104199001011234",
    "class": "C1",
    "validUntil": "2032-05-01",
    "address": "湖南省长沙市岳麓区麓山南路 1 号",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issued() -> tuple[str, list[Disclosure]]:
    return issue(KEY, visible=VISIBLE, disclosable=FIELDS)


def full() -> str:
    token, disclosures = issued()
    return present(token, disclosures, FIELDS)


def refusal(text: str, keys: sdjwt.KeyLookup = RING.get, now: float = NOW) -> str:
    with pytest.raises(SdJwtInvalid) as caught:
        verify(text, keys, now=now)
    return caught.value.reason


def payload_of(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(unb64(token.split(".")[1]))
    return value


# --- disclosures -----------------------------------------------------------------------------


def test_a_disclosure_is_the_base64url_json_array_and_its_digest_the_sha256_of_that() -> None:
    d = make_disclosure("name", "张三", salt="c2FsdA")
    assert json.loads(unb64(d.encoded).decode("utf-8")) == ["c2FsdA", "name", "张三"]
    assert "张三".encode() in unb64(d.encoded)  # UTF-8, not \u escapes
    assert d.digest == b64(hashlib.sha256(d.encoded.encode("ascii")).digest())
    assert (d.salt, d.name, d.value) == ("c2FsdA", "name", "张三")


def test_salts_are_128_bit_random() -> None:
    salts = {make_disclosure("a", 1).salt for _ in range(50)}
    assert len(salts) == 50
    assert all(len(unb64(s)) == 16 for s in salts)


@pytest.mark.parametrize("name", ["", "_sd", "_sd_alg", "..."])
def test_reserved_or_empty_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"name|reserved"):
        make_disclosure(name, "x")


def test_the_draft_example_disclosure_has_the_draft_digest() -> None:
    # The draft's own example disclosure (family_name "Möbius") and its digest.
    encoded = "WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    assert json.loads(unb64(encoded)) == ["6qMQvRL5haj", "family_name", "Möbius"]
    assert sdjwt._digest(encoded) == "uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY"


# --- issue and present -----------------------------------------------------------------------


def test_round_trip_discloses_every_claim() -> None:
    verified = verify(full(), RING.get, now=NOW)
    assert verified.disclosed == FIELDS
    assert verified.claims == VISIBLE
    assert verified.header == {"alg": "EdDSA", "kid": KEY.kid, "typ": "dc+sd-jwt"}


def test_the_payload_holds_sorted_digests_padded_with_decoys() -> None:
    token, disclosures = issued()
    payload = payload_of(token)
    assert payload["_sd_alg"] == "sha-256"
    digests = payload["_sd"]
    assert digests == sorted(digests)
    assert {d.digest for d in disclosures} < set(digests)
    assert len(digests) % 4 == 0
    assert len(digests) >= len(FIELDS) + 1
    assert not set(FIELDS) & set(payload)
    assert "张三" not in json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize(
    ("fields", "decoys", "total"), [(0, 0, 0), (0, 1, 4), (3, 1, 4), (4, 1, 8)]
)
def test_decoy_padding(fields: int, decoys: int, total: int) -> None:
    disclosable = {f"f{i}": i for i in range(fields)}
    token, _ = issue(KEY, visible=VISIBLE, disclosable=disclosable, decoys=decoys)
    assert len(payload_of(token)["_sd"]) == total


def test_selective_reveal_shows_only_the_chosen_claims() -> None:
    token, disclosures = issued()
    text = present(token, disclosures, ["name", "validUntil"])
    assert text.endswith("~")
    assert text.count("~") == 3
    verified = verify(text, RING.get, now=NOW)
    assert verified.disclosed == {"name": "张三", "validUntil": "2032-05-01"}
    assert verify(present(token, disclosures, []), RING.get, now=NOW).disclosed == {}


def test_presenting_an_unknown_claim_names_it() -> None:
    token, disclosures = issued()
    with pytest.raises(ValueError, match="nickname"):
        present(token, disclosures, ["name", "nickname"])


@pytest.mark.parametrize(
    "visible",
    [
        {**VISIBLE, "_sd": []},
        {**VISIBLE, "_sd_alg": "sha-256"},
        {**VISIBLE, "name": "李四"},
        {**VISIBLE, "extra": {"_sd": ["x"]}},
        {k: v for k, v in VISIBLE.items() if k != "exp"},
    ],
)
def test_issue_refuses_bad_visible_claims(visible: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"_sd|name|exp"):
        issue(KEY, visible=visible, disclosable=FIELDS)


def test_issue_needs_a_private_key() -> None:
    verify_only = public_key_from_jwk(KEY.public_jwk)
    with pytest.raises(LookupError):
        issue(verify_only, visible=VISIBLE, disclosable=FIELDS)


def test_chinese_values_and_names_round_trip() -> None:
    fields = {"姓名": "欧阳娜娜", "住址": "湘西土家族苗族自治州 🏔️", "list": ["一", {"二": 2}]}
    token, disclosures = issue(KEY, visible=VISIBLE, disclosable=fields)
    assert verify(present(token, disclosures, fields), RING.get, now=NOW).disclosed == fields


# --- refusals --------------------------------------------------------------------------------


def test_a_tampered_disclosure_is_not_in_sd() -> None:
    token, disclosures = issued()
    original = disclosures[0]
    forged = make_disclosure(original.name, "李四", salt=original.salt)
    assert refusal(f"{token}~{forged.encoded}~") == "disclosure not in _sd"


def test_a_disclosure_of_another_issuance_is_not_in_sd() -> None:
    token, _ = issued()
    _, others = issued()
    assert refusal(present(token, [], []) + others[0].encoded + "~") == "disclosure not in _sd"


def test_a_tampered_payload_has_a_bad_signature() -> None:
    token, disclosures = issued()
    header, _, signature = token.split(".")
    payload = {**payload_of(token), "exp": int(NOW) + 10**6}
    forged = f"{header}.{b64(json.dumps(payload).encode())}.{signature}"
    assert refusal(present(forged, disclosures, FIELDS)) == "bad signature"


def test_another_key_is_unknown_or_a_bad_signature() -> None:
    token, disclosures = issue(OTHER, visible=VISIBLE, disclosable=FIELDS)
    text = present(token, disclosures, FIELDS)
    assert refusal(text) == "unknown key id"
    # The other key's signature under our kid: the lookup answers, the signature does not hold.
    assert refusal(text, keys=lambda kid: KEY) == "bad signature"


def test_expired() -> None:
    assert refusal(full(), now=VISIBLE["exp"]) == "expired"
    assert verify(full(), RING.get, now=VISIBLE["exp"] - 1).disclosed == FIELDS


def test_not_yet_valid() -> None:
    token, disclosures = issue(KEY, visible={**VISIBLE, "nbf": NOW + 60}, disclosable=FIELDS)
    assert refusal(present(token, disclosures, FIELDS)) == "not yet valid"


def test_the_same_disclosure_twice() -> None:
    token, disclosures = issued()
    assert refusal(f"{token}~{disclosures[0].encoded}~{disclosures[0].encoded}~") == (
        "repeated disclosure"
    )


def sign(payload: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A JWT signed by KEY with any payload and header (what a careless issuer could make)."""
    assert KEY.private_key is not None
    head = {"alg": "EdDSA", "kid": KEY.kid, "typ": "dc+sd-jwt", **(header or {})}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(KEY.private_key.sign(signing_input.encode()))}"


def test_a_disclosed_name_colliding_with_a_visible_claim() -> None:
    d = make_disclosure("jti", "other")
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": [d.digest]}
    assert refusal(f"{sign(payload)}~{d.encoded}~") == (
        "disclosed claim collides with a visible claim"
    )


def test_two_disclosures_of_one_name() -> None:
    a, b = make_disclosure("name", "张三"), make_disclosure("name", "李四")
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": sorted([a.digest, b.digest])}
    assert refusal(f"{sign(payload)}~{a.encoded}~{b.encoded}~") == "claim disclosed twice"


@pytest.mark.parametrize(
    "content",
    [
        b'["salt","name"]',  # an array element's disclosure
        b'["salt","name","v","extra"]',
        b'{"salt":"s"}',
        b'["salt","","v"]',
        b'["salt","_sd","v"]',
        b'[1,"name","v"]',
        b'["salt","name",{"_sd":["x"]}]',
        b'["salt","name",NaN]',
        b"\xff\xfe not utf-8",
        b'["salt","name","v"',
    ],
)
def test_a_malformed_but_signed_for_disclosure(content: bytes) -> None:
    encoded = b64(content)
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": [sdjwt._digest(encoded)]}
    assert refusal(f"{sign(payload)}~{encoded}~") == "malformed disclosure"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"_sd_alg": "sha-512"}, "unsupported or missing _sd_alg (only sha-256)"),
        ({"_sd": "abc"}, "malformed _sd"),
        ({"_sd": ["short"]}, "malformed _sd"),
        ({"_sd": ["A" * 43, "A" * 43]}, "repeated digest in _sd"),
        ({"exp": "tomorrow"}, "claim exp is not a number"),
        ({"address": {"_sd": ["A" * 43]}}, "nested disclosures are not supported"),
    ],
)
def test_malformed_signed_payloads(change: dict[str, Any], reason: str) -> None:
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": [], **change}
    assert refusal(f"{sign(payload)}~") == reason


def test_a_payload_without_exp() -> None:
    payload = {"iss": "x", "_sd_alg": "sha-256", "_sd": []}
    assert refusal(f"{sign(payload)}~") == "no expiry (exp)"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"typ": "JWT"}, "wrong type (typ): expected dc+sd-jwt"),
        ({"typ": "vc+sd-jwt"}, "wrong type (typ): expected dc+sd-jwt"),
        ({"alg": "none"}, "algorithm not accepted (only EdDSA)"),
        ({"alg": "HS256"}, "algorithm not accepted (only EdDSA)"),
        ({"kid": ""}, "no key id (kid)"),
        ({"crit": ["exp"]}, "unsupported critical header parameters"),
    ],
)
def test_header_refusals(header: dict[str, Any], reason: str) -> None:
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": []}
    assert refusal(f"{sign(payload, header)}~") == reason


def test_media_type_forms_of_typ_are_accepted() -> None:
    payload = {**VISIBLE, "_sd_alg": "sha-256", "_sd": []}
    assert verify(f"{sign(payload, {'typ': 'application/DC+SD-JWT'})}~", RING.get, now=NOW)


def test_format_refusals() -> None:
    token, disclosures = issued()
    text = present(token, disclosures, FIELDS)
    assert refusal(token) == "not an SD-JWT"  # a bare JWT: no ~
    assert refusal(text[:-1]) == "key binding is not supported"  # last part taken as a KB-JWT
    assert refusal(f"{token}~~") == "malformed disclosure"
    assert refusal(f"{token}~a+b~") == "malformed disclosure"
    assert refusal("~" + text) == "not an SD-JWT"
    assert refusal(text + "x" * sdjwt.MAX_LENGTH) == "SD-JWT too long"
    assert refusal(12345) == "not an SD-JWT"  # type: ignore[arg-type]
    # The signature's last character has 4 spare bits: another spelling of the same signature.
    last = token[-1]
    other = next(
        c for c in "AEIMQUYcgkosw048" if c != last and unb64("A" + c)[:1] == unb64("A" + last)[:1]
    )
    assert refusal(present(token[:-1] + other, disclosures, FIELDS)) == "not an SD-JWT"


def test_a_repeated_json_key_in_the_payload_is_refused() -> None:
    header = b64(json.dumps({"alg": "EdDSA", "kid": KEY.kid, "typ": "dc+sd-jwt"}).encode())
    body = b64(b'{"exp": 1, "exp": 9999999999, "_sd_alg": "sha-256", "_sd": []}')
    assert KEY.private_key is not None
    signature = b64(KEY.private_key.sign(f"{header}.{body}".encode()))
    assert refusal(f"{header}.{body}.{signature}~") == "malformed payload"


REASONS = {
    "not an SD-JWT",
    "SD-JWT too long",
    "key binding is not supported",
    "algorithm not accepted (only EdDSA)",
    "wrong type (typ): expected dc+sd-jwt",
    "unsupported critical header parameters",
    "no key id (kid)",
    "unknown key id",
    "bad signature",
    "malformed payload",
}
FULL = full()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=300),
        st.text(alphabet="AaZz09_-.~=+/{}\"'[]:,", max_size=300),
        st.builds(
            lambda cut, junk: FULL[:cut] + junk + FULL[cut + len(junk) :],
            st.integers(0, len(FULL)),
            st.text(alphabet="AaZz09_-.~", max_size=8),
        ),
    )
)
def test_garbage_is_only_ever_refused(text: str) -> None:
    reason = None
    try:
        verified = verify(text, RING.get, now=NOW)
    except SdJwtInvalid as refused:
        reason = refused.reason
    if reason is None:  # an edit that left it valid (e.g. a character replaced by itself)
        assert verified.disclosed.items() <= FIELDS.items()
    else:  # fixed reasons only: nothing of the input comes back
        assert reason in REASONS or reason.startswith(("disclosure", "malformed"))
        assert reason.isascii()
        assert len(reason) < 60


# --- an independent implementation: the sd-jwt library (jwcrypto) ------------------------------


def jwk_of(key: SigningKey) -> JWK:
    return JWK.from_pyca(key.public_key)


def library_verify(text: str, key: SigningKey) -> dict[str, Any]:
    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        assert header["alg"] == "EdDSA"
        return jwk_of(key)  # whatever the kid says: the signature must decide

    payload: dict[str, Any] = SDJWTVerifier(text, issuer_key).get_verified_payload()
    return payload


def test_the_library_verifies_our_eddsa_sd_jwt() -> None:
    assert library_verify(full(), KEY) == {**VISIBLE, **FIELDS}
    token, disclosures = issued()
    text = present(token, disclosures, ["class", "address"])
    assert library_verify(text, KEY) == {
        **VISIBLE,
        "class": "C1",
        "address": FIELDS["address"],
    }
    assert verify(text, RING.get, now=NOW).disclosed == {
        "class": "C1",
        "address": FIELDS["address"],
    }


def test_the_library_refuses_our_sd_jwt_under_another_key() -> None:
    with pytest.raises(InvalidJWSSignature):
        library_verify(full(), OTHER)


def test_we_verify_the_librarys_eddsa_sd_jwt() -> None:
    assert KEY.private_key is not None
    claims = {**VISIBLE, **{SDObj(name): value for name, value in FIELDS.items()}}
    issuer = SDJWTIssuer(
        claims,
        JWK.from_pyca(KEY.private_key),
        sign_alg="EdDSA",
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": KEY.kid},
    )
    holder = SDJWTHolder(issuer.sd_jwt_issuance)
    holder.create_presentation({"name": True, "number": True})
    verified = verify(holder.sd_jwt_presentation, RING.get, now=NOW)
    assert verified.disclosed == {"name": "张三", "number": "430104199001011234"}
    assert verified.claims == VISIBLE
