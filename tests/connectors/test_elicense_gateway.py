"""The e-license capability through the gateway: the canonical API onboarded at 430000/elicense
over the registry simulator, which checks the gateway's signed assertion with the gateway's own
published keys (/.well-known/jwks.json), on a real database.

One gateway, one registry and one onboarding serve the whole module (a module-scoped fixture on a
database of the module's own): each test makes the residents and clients it changes. The registry
and the enterprise register are ASGI apps behind the gateway's transport factory.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import zxingcpp
from defusedxml import ElementTree
from fastapi import FastAPI
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import delete, update
from starlette.applications import Starlette

from app.connectors.elicense import DIVISION, SLUG, canonical_document, sdjwt
from app.core.config import Settings
from app.core.db import create_engine
from app.core.identifiers import license_check_char, make_license_id, mask_resident_id
from app.demo_elicense import RESIDENT_OPERATIONS, license_holder
from app.gateway.routetable import TransportFactory
from app.identity.keys import SigningKey, public_key_from_jwk
from app.main import create_app
from app.models.elicense import LicensePresentation
from app.services.elicense.types import license_types_named
from app.simulators.elicense import License, create_registry_app, registry_types, seeded_licenses
from app.simulators.enterprise import Enterprise, create_register_app, seeded_enterprises
from tests.conftest import ADMIN_TOKEN
from tests.connectors.gateway_support import migrated_settings, verify_at_counter
from tests.databases import create_database, drop_database
from tests.identity.api_support import (
    Json,
    bearer,
    create_client,
    grant,
    is_problem,
    login,
    phone_number,
    register,
    register_company,
)
from tests.log_guard import secret

GW = f"/gw/{DIVISION}/{SLUG}"
REGISTRY_URL = "http://127.0.0.1:9016"
REGISTER_URL = "http://enterprise-register.test"
REGISTER_TOKEN = secret("elicense-gateway-test-register-token")
ID_CARD = license_types_named("居民身份证")[0].code
BUSINESS_LICENSE = license_types_named("营业执照")[0].code
VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "app" / "data" / "test_vectors.json").read_text(
        encoding="utf-8"
    )
)
REFERENCE = re.compile(r"^XYB1\.[A-Z2-7]{26}\.[0-9A-F]{16}$")
DETAIL = ("POST", "/api/v2/zz/detail")


def onboarding() -> dict[str, Any]:
    """The e-license service as xyb demo onboards it (app.demo_elicense.onboard_elicense)."""
    return {
        "division": DIVISION,
        "slug": SLUG,
        "name": "湖南省电子证照",
        "upstream_url": REGISTRY_URL,
        "document": canonical_document(),
        "connector": "elicense",
        "data_classification": "sensitive",
    }


def _another_holder(*taken: str) -> tuple[str, str, list[License]]:
    """Another seeded resident (not one of ``taken``) holding a valid 居民身份证."""
    today = date.today()
    by_holder: dict[str, list[License]] = {}
    for item in seeded_licenses(1):
        if item.holder_code_kind == "111" and item.holder_code not in taken:
            by_holder.setdefault(item.holder_code, []).append(item)
    held = next(
        h
        for h in sorted(by_holder.values(), key=lambda h: h[0].holder_code)
        if any(x.type_code == ID_CARD and x.status(today) == "01" for x in h)
    )
    return held[0].holder_name, held[0].holder_code, held


def _licensed_firm() -> tuple[Enterprise, list[License]]:
    """A firm of the enterprise register (存续) that holds licenses in the registry."""
    by_holder: dict[str, list[License]] = {}
    for item in seeded_licenses(1):
        if item.holder_code_kind == "001":
            by_holder.setdefault(item.holder_code, []).append(item)
    for firm in seeded_enterprises(1):
        if firm.uscc in by_holder and firm.status == "存续":
            return firm, by_holder[firm.uscc]
    raise AssertionError("no seeded enterprise holds a license")


@dataclass
class Resident:
    id: int
    name: str
    id_number: str
    token: str
    licenses: list[License]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def valid(self, type_code: str = ID_CARD) -> License:
        today = date.today()
        return next(
            x for x in self.licenses if x.type_code == type_code and x.status(today) == "01"
        )


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    registry: Starlette
    settings: Settings
    database_url: str
    admin: dict[str, str]
    app_client: Json
    verifier: dict[str, str]
    department: dict[str, str]
    unroled: dict[str, str]  # granted the role operations, holding no role
    holder: Resident
    other: Resident
    jwks: dict[str, Any] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)  # by Authorization header

    @property
    def received(self) -> Any:
        return self.registry.state.received

    async def token_of(self, body: Json) -> dict[str, str]:
        issued = await self.client.post(
            "/identity/token",
            data={"grant_type": "client_credentials"},
            auth=(body["client_id"], body["client_secret"]),
        )
        assert issued.status_code == 200, issued.text
        return bearer(issued.json()["access_token"])

    async def role_client(
        self, role: str | None, operations: list[str], division: str | None = None
    ) -> dict[str, str]:
        """A client of ``role`` (none: a plain app) granted ``operations``; its token's headers
        (its id kept in ``client_ids``)."""
        fields: Json = {"name": f"e-license {role or 'app'} client"}
        if role is not None:
            fields["roles"] = [role]
        if division is not None:
            fields["division"] = division
        created = await create_client(self.client, self.admin, **fields)
        await grant(self.client, self.admin, created["client_id"], DIVISION, SLUG, operations)
        headers = await self.token_of(created)
        self.client_ids[headers["Authorization"]] = created["client_id"]
        return headers

    async def resident(
        self, name: str, id_number: str, held: list[License], *, in_person: bool = True
    ) -> Resident:
        """A registered resident, verified in person (assurance 2) unless told otherwise."""
        person = await register(self.client, id_number=id_number, name=name, phone=phone_number())
        if in_person:
            await verify_at_counter(self.settings, id_number, name)
        issued = await login(self.client, self.app_client, person["raw"]["phone"])
        return Resident(person["id"], name, id_number, issued["access_token"], held)

    def keys(self) -> Any:
        by_kid = {}
        for jwk in self.jwks["keys"]:
            key = public_key_from_jwk(jwk)
            by_kid[key.kid] = key

        def lookup(kid: str) -> SigningKey | None:
            return by_kid.get(kid)

        return lookup


def _no_upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(501, json={"detail": "no upstream for this test"})


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("elicense-gateway")
    url = await create_database(tmp)
    settings = await migrated_settings(
        tmp,
        url,
        enterprise_register_url=REGISTER_URL,
        enterprise_register_token=SecretStr(REGISTER_TOKEN),
    )
    published: dict[str, Any] = {"keys": []}
    registry = create_registry_app(
        seed=1,
        gateway_jwks=lambda: published,
        assertion_issuer=settings.resolved_issuer,
        assertion_audience=f"{DIVISION}/{SLUG}",
    )
    register_app = create_register_app(seed=1, consumer_token=REGISTER_TOKEN)

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        if base_url.startswith(REGISTRY_URL):
            return httpx.ASGITransport(app=registry)
        if base_url.startswith(REGISTER_URL):
            return httpx.ASGITransport(app=register_app)
        return httpx.MockTransport(_no_upstream)

    app = create_app(settings, transport_factory=factory)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            jwks = await client.get("/.well-known/jwks.json")
            assert jwks.status_code == 200, jwks.text
            published.update(jwks.json())
            onboarded = await client.post(
                "/admin/services",
                json=onboarding(),
                headers=admin,
            )
            assert onboarded.status_code == 201, onboarded.text
            app_client = await create_client(client, admin, name="湘易办")
            await grant(client, admin, app_client["client_id"], DIVISION, SLUG, RESIDENT_OPERATIONS)
            partial = Env(
                app=app,
                client=client,
                registry=registry,
                settings=settings,
                database_url=url,
                admin=admin,
                app_client=app_client,
                verifier={},
                department={},
                unroled={},
                holder=None,  # type: ignore[arg-type]
                other=None,  # type: ignore[arg-type]
                jwks=published,
            )
            partial.verifier = await partial.role_client("verifier", ["verifyPresentation"])
            partial.department = await partial.role_client(
                "department", ["issueLicense", "revokeLicense"], division="430000"
            )
            partial.unroled = await partial.role_client(
                None, ["verifyPresentation", "issueLicense", "revokeLicense"]
            )
            name, id_number, held = license_holder()
            partial.holder = await partial.resident(name, id_number, held)
            name, id_number, held = _another_holder(id_number)
            partial.other = await partial.resident(name, id_number, held)
            yield partial
    finally:
        await drop_database(url)


def problem_type(response: httpx.Response, status: int, name: str) -> Json:
    body = is_problem(response, status)
    assert body["type"].endswith("/" + name), body
    return body


async def test_the_registry_checks_the_gateways_assertion(env: Env) -> None:
    """Every 200 below went through a registry that verified the gateway's signed assertion."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.registry), base_url=REGISTRY_URL
    ) as direct:
        bare = await direct.post("/api/v2/zzlx/query", json={"pageSize": 1})
        forged = await direct.post(
            "/api/v2/zzlx/query", json={"pageSize": 1}, headers={"X-XYB-Assertion": "e.e.e"}
        )
    assert (bare.status_code, bare.json()["resultCode"]) == (401, "9401")
    assert forged.status_code == 401
    types = await env.client.get(
        f"{GW}/license-types", params={"pageSize": 5}, headers=env.holder.headers
    )
    assert types.status_code == 200, types.text
    assert types.json()["total"] == len(registry_types())


# -- 1. identifiers ----------------------------------------------------------------------------


async def test_a_wrong_check_character_is_422_naming_the_right_one(env: Env) -> None:
    good = env.holder.valid().identifier
    body, check = good.rsplit(".", 1)
    wrong = next(c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != check)
    answer = await env.client.get(f"{GW}/licenses/{body}.{wrong}", headers=env.holder.headers)
    problem = problem_type(answer, 422, "bad-license-id")
    expected = license_check_char(body.removeprefix("1.2.156.3005.2."))
    assert expected == check
    assert f"the check character should be {expected}, not {wrong}" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "/path/licenseId"
    assert problem["instance"]


@pytest.mark.parametrize(
    "vector", VECTORS["e_license_id_invalid_examples"], ids=lambda v: v["value"][-20:]
)
async def test_the_published_invalid_vectors_are_refused_by_their_check_character(
    env: Env, vector: Json
) -> None:
    answer = await env.client.get(f"{GW}/licenses/{vector['value']}", headers=env.holder.headers)
    problem = problem_type(answer, 422, "bad-license-id")
    got = vector["segments"]["check"]
    assert (
        f"the check character should be {vector['expected_check']}, not {got}"
        in (problem["detail"])
    )


async def test_a_malformed_identifier_names_the_segment(env: Env) -> None:
    valid = VECTORS["e_license_id_valid"][2]["value"]  # 1.2.156.3005.2.<type>.340100.<n>.001.9
    wrong_root = valid.replace("1.2.156.3005.2.", "1.2.156.3006.2.", 1)
    answer = await env.client.get(f"{GW}/licenses/{wrong_root}", headers=env.holder.headers)
    assert "starts with 1.2.156.3005.2." in problem_type(answer, 422, "bad-license-id")["detail"]
    parts = valid.split(".")
    missing = ".".join(parts[:-3] + parts[-2:])  # no license number
    answer = await env.client.get(f"{GW}/licenses/{missing}", headers=env.holder.headers)
    detail = problem_type(answer, 422, "bad-license-id")["detail"]
    assert "5 segments" in detail
    assert "not 4" in detail
    assert "license number" in detail
    # The valid vector itself is well-formed: not 422 (the registry simply does not hold it).
    answer = await env.client.get(f"{GW}/licenses/{valid}", headers=env.holder.headers)
    assert answer.status_code != 422, answer.text


# -- 2. a resident's own licenses --------------------------------------------------------------


async def test_a_resident_lists_and_reads_their_own_licenses(env: Env) -> None:
    listed = await env.client.get(f"{GW}/licenses", headers=env.holder.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["holder"]["kind"] == "person"
    # Issued through the gateway by test_issuing (if it ran first) is the holder's too.
    seeded = {x.identifier for x in env.holder.licenses}
    assert seeded <= {i["id"] for i in body["items"]}
    assert all(i["holder"]["code"] == env.holder.id_number for i in body["items"])
    assert all("data" not in i for i in body["items"])

    card = env.holder.valid()
    read = await env.client.get(f"{GW}/licenses/{card.identifier}", headers=env.holder.headers)
    assert read.status_code == 200, read.text
    license = read.json()
    assert license["id"] == card.identifier
    assert license["type"]["code"] == ID_CARD
    assert license["status"] == "valid"
    assert license["data"]["id_number"] == env.holder.id_number
    assert license["data"]["name"] == env.holder.name


async def test_another_residents_license_is_not_found_for_a_resident(env: Env) -> None:
    """A resident's token acts for that resident alone: another's license answers as one the
    registry does not hold (no oracle of who holds what)."""
    theirs = env.other.valid().identifier
    answer = await env.client.get(f"{GW}/licenses/{theirs}", headers=env.holder.headers)
    problem = problem_type(answer, 404, "license-not-found")
    assert problem["detail"] == "You hold no license with this identifier."
    assert env.other.name not in answer.text


async def test_an_account_whose_id_number_nobody_verified_gets_a_step_up(env: Env) -> None:
    """Registering takes any well-formed ID number: e-licenses need the person verified."""
    taken = (env.holder.id_number, env.other.id_number)
    third = _another_holder(*taken)[1]  # the revocation test's resident
    name, id_number, held = _another_holder(*taken, third)
    typed = await env.resident("冒名者", id_number, held, in_person=False)
    answer = await env.client.get(f"{GW}/licenses/{held[0].identifier}", headers=typed.headers)
    problem = problem_type(answer, 403, "assurance-too-low")
    assert problem["step_up"] is True
    assert problem["required_assurance"] == 2
    assert name not in answer.text


async def test_an_unknown_license_of_a_valid_form_is_404(env: Env) -> None:
    unknown = make_license_id(ID_CARD, "431281", "999999999999", 7)
    answer = await env.client.get(f"{GW}/licenses/{unknown}", headers=env.holder.headers)
    problem_type(answer, 404, "license-not-found")


# -- 3. agents of a legal person ---------------------------------------------------------------


async def test_an_agent_lists_the_legal_persons_licenses(env: Env) -> None:
    firm, held = _licensed_firm()
    representative = await env.resident(
        firm.legal_representative, firm.legal_representative_id_number, []
    )
    created = await register_company(env.client, representative.token, firm.uscc)
    assert created.status_code == 201, created.text
    issued = await login(
        env.client,
        env.app_client,
        representative.id_number,
        acting_for=str(created.json()["id"]),
    )
    listed = await env.client.get(f"{GW}/licenses", headers=bearer(issued["access_token"]))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["holder"]["kind"] == "legal_person"
    assert {i["id"] for i in body["items"]} == {x.identifier for x in held}
    assert all(i["holder"]["code"] == firm.uscc for i in body["items"])
    assert "营业执照" in {i["type"]["name"] for i in body["items"]}
    # Their own token (not acting for the firm) lists their own: none of the firm's.
    own = await env.client.get(f"{GW}/licenses", headers=representative.headers)
    assert own.status_code == 200, own.text
    assert not {i["id"] for i in own.json()["items"]} & {x.identifier for x in held}


# -- 4. presentations (扫码亮证) ----------------------------------------------------------------


async def present(env: Env, resident: Resident, **body: Any) -> httpx.Response:
    body.setdefault("licenseId", resident.valid().identifier)
    return await env.client.post(f"{GW}/presentations", json=body, headers=resident.headers)


async def verify(env: Env, text: str, headers: dict[str, str] | None = None) -> Json:
    answer = await env.client.post(
        f"{GW}/verifications", json={"text": text}, headers=headers or env.verifier
    )
    assert answer.status_code == 200, answer.text
    result: Json = answer.json()
    return result


async def test_a_presentation_shows_only_the_chosen_fields_and_works_once(env: Env) -> None:
    made = await present(env, env.holder, disclose=["age_over_18"])
    assert made.status_code == 201, made.text
    presentation = made.json()
    text = presentation["text"]
    assert REFERENCE.fullmatch(text), text
    assert presentation["singleUse"] is True
    assert presentation["disclosed"] == ["age_over_18"]
    assert presentation["qr"]["version"] <= 4
    expires = datetime.fromisoformat(presentation["expiresAt"])
    assert timedelta(seconds=200) < expires - datetime.now(UTC) <= timedelta(seconds=300)

    png = await env.client.get(presentation["qr"]["png"], headers=env.holder.headers)
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [d.text for d in decoded] == [text]
    svg = await env.client.get(presentation["qr"]["svg"], headers=env.holder.headers)
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(svg.content).tag.endswith("svg")
    # The QR images are the holder's alone.
    theirs = await env.client.get(presentation["qr"]["png"], headers=env.other.headers)
    problem_type(theirs, 404, "presentation-not-found")

    result = await verify(env, text)
    assert result["valid"] is True, result
    assert result["detail"]
    assert result["disclosed"] == {"age_over_18": True}
    holder = result["license"]["holder"]
    assert holder["name"] == env.holder.name[0] + "*" * (len(env.holder.name) - 1)
    assert holder["code"] == mask_resident_id(env.holder.id_number)
    assert holder["code"] != env.holder.id_number
    assert result["license"]["type"]["code"] == ID_CARD
    assert result["license"]["status"] == "valid"
    for private in (env.holder.id_number, env.holder.name, "birth_date", "address"):
        assert private not in json.dumps(result, ensure_ascii=False)
    # The SD-JWT verifies against the gateway's published keys and discloses the same.
    verified = sdjwt.verify(result["sdJwt"], env.keys())
    assert verified.disclosed == {"age_over_18": True}
    assert verified.claims["vct"] == f"urn:xyb:elicense:{ID_CARD}"
    assert verified.claims["jti"] == presentation["id"]
    assert verified.header["typ"] == "dc+sd-jwt"
    disclosures = [d for d in result["sdJwt"].split("~")[1:] if d]
    assert len(disclosures) == 1
    assert json.loads(base64.urlsafe_b64decode(disclosures[0] + "==="))[1:] == [
        "age_over_18",
        True,
    ]

    again = await verify(env, text)
    assert (again["valid"], again["reason"]) == (False, "already-used")


async def test_a_reusable_presentation_verifies_twice_and_the_read_is_logged(env: Env) -> None:
    made = await present(env, env.holder, singleUse=False, disclose=["holder_name"])
    assert made.status_code == 201, made.text
    text = made.json()["text"]
    for _ in range(2):
        result = await verify(env, text)
        assert result["valid"] is True, result
        assert result["disclosed"] == {"holder_name": env.holder.name}
    await env.app.state.audit.flush()
    log = await env.client.get("/identity/me/access-log", headers=env.holder.headers)
    assert log.status_code == 200, log.text
    shown = [r for r in log.json()["reads"] if r["kind"] == "license-shown"]
    assert len(shown) >= 2
    assert shown[0]["client"]["id"] == env.client_ids[env.verifier["Authorization"]]


async def test_an_expired_presentation_is_expired(env: Env) -> None:
    made = await present(env, env.holder, ttlSeconds=30)
    assert made.status_code == 201, made.text
    presentation = made.json()
    expires = datetime.fromisoformat(presentation["expiresAt"])
    assert expires - datetime.now(UTC) <= timedelta(seconds=30)
    # Thirty seconds pass: the row's expiry is moved into the past rather than the test waiting.
    await _change_presentation(
        env,
        update(LicensePresentation)
        .where(LicensePresentation.id == presentation["id"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)),
    )
    result = await verify(env, presentation["text"])
    assert (result["valid"], result["reason"]) == (False, "expired")
    gone = await env.client.get(presentation["qr"]["png"], headers=env.holder.headers)
    problem_type(gone, 410, "presentation-expired")


async def test_a_tampered_reference_is_a_bad_signature(env: Env) -> None:
    made = await present(env, env.holder)
    assert made.status_code == 201, made.text
    text = made.json()["text"]
    last = text[-1]
    tampered = text[:-1] + ("0" if last != "0" else "1")
    result = await verify(env, tampered)
    assert (result["valid"], result["reason"]) == (False, "bad-signature")
    assert "license" not in result
    assert "disclosed" not in result
    # The genuine text still works: the tampered one did not use it up.
    assert (await verify(env, text))["valid"] is True


async def test_a_purged_presentation_is_an_unknown_reference(env: Env) -> None:
    made = await present(env, env.holder)
    assert made.status_code == 201, made.text
    presentation = made.json()
    await _change_presentation(
        env, delete(LicensePresentation).where(LicensePresentation.id == presentation["id"])
    )
    result = await verify(env, presentation["text"])
    assert (result["valid"], result["reason"]) == (False, "unknown-reference")


async def test_a_license_revoked_after_presenting_fails_the_check(env: Env) -> None:
    # A resident of their own: revoking changes the registry for the rest of the module.
    resident = await env.resident(*_another_holder(env.holder.id_number, env.other.id_number))
    card = resident.valid()
    made = await present(env, resident, licenseId=card.identifier, singleUse=False)
    assert made.status_code == 201, made.text
    text = made.json()["text"]
    assert (await verify(env, text))["valid"] is True

    refused = await env.client.post(
        f"{GW}/licenses/{card.identifier}/revocation",
        json={"reason": "遗失补领"},
        headers=env.unroled,
    )
    problem_type(refused, 403, "role-required")
    revoked = await env.client.post(
        f"{GW}/licenses/{card.identifier}/revocation",
        json={"reason": "遗失补领"},
        headers=env.department,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revocationReason"] == "遗失补领"

    result = await verify(env, text)
    assert (result["valid"], result["reason"]) == (False, "license-revoked")
    # A revoked license cannot be presented anew, and revoking twice is a conflict.
    problem_type(await present(env, resident, licenseId=card.identifier), 409, "license-conflict")
    twice = await env.client.post(
        f"{GW}/licenses/{card.identifier}/revocation",
        json={"reason": "again"},
        headers=env.department,
    )
    problem_type(twice, 409, "license-conflict")


async def test_only_a_verifier_checks_and_only_the_holder_presents(env: Env) -> None:
    made = await present(env, env.holder)
    assert made.status_code == 201, made.text
    text = made.json()["text"]
    not_verifier = await env.client.post(
        f"{GW}/verifications", json={"text": text}, headers=env.unroled
    )
    body = problem_type(not_verifier, 403, "role-required")
    assert body["required_role"] == "verifier"
    # The refused check did not use the single-use code up.
    assert (await verify(env, text))["valid"] is True

    # Another's license is answered as one the registry does not hold (identifiers embed ID
    # numbers: a 403 would tell who holds a license).
    someone_elses = await present(env, env.holder, licenseId=env.other.valid().identifier)
    problem_type(someone_elses, 404, "license-not-found")


async def test_disclosing_an_unknown_field_lists_the_disclosable_ones(env: Env) -> None:
    answer = await present(env, env.holder, disclose=["age_over_18", "blood_type"])
    body = is_problem(answer, 422)
    assert "blood_type" in body["detail"]
    assert {"age_over_18", "age_over_60", "holder_name", "birth_date"} <= set(body["disclosable"])
    assert "blood_type" not in body["disclosable"]


async def _change_presentation(env: Env, statement: Any) -> None:
    engine = create_engine(env.settings, env.database_url)
    try:
        async with engine.begin() as conn:
            changed = await conn.execute(statement)
            assert changed.rowcount == 1
    finally:
        await engine.dispose()


# -- 5. consent ---------------------------------------------------------------------------------


def for_purpose(headers: dict[str, str], purpose: str) -> dict[bytes, bytes]:
    """The headers plus ``Xyb-Purpose``, as UTF-8 bytes (httpx encodes str values as ASCII)."""
    own = {name.encode(): value.encode() for name, value in headers.items()}
    return {**own, b"Xyb-Purpose": purpose.encode("utf-8")}


async def test_a_client_reads_a_license_only_with_the_holders_consent_for_its_purpose(
    env: Env,
) -> None:
    purpose = "办理公积金贷款：核验身份"
    reader = await env.role_client(None, ["getLicense"])
    reader_id = env.client_ids[reader["Authorization"]]
    card = env.holder.valid()
    url = f"{GW}/licenses/{card.identifier}"

    before = env.received[DETAIL]
    refused = await env.client.get(url, headers=for_purpose(reader, purpose))
    problem_type(refused, 403, "consent-required")
    assert env.holder.id_number not in refused.text
    no_purpose = await env.client.get(url, headers=reader)
    assert "Xyb-Purpose" in problem_type(no_purpose, 403, "consent-required")["detail"]
    # Without a consent for the type the registry is not even asked.
    assert env.received[DETAIL] == before

    until = (date.today() + timedelta(days=30)).isoformat()
    granted = await env.client.post(
        f"{GW}/consents",
        json={"clientId": reader_id, "licenseType": ID_CARD, "purpose": purpose, "until": until},
        headers=env.holder.headers,
    )
    assert granted.status_code == 201, granted.text
    consent = granted.json()

    read = await env.client.get(url, headers=for_purpose(reader, purpose))
    assert read.status_code == 200, read.text
    assert read.json()["id"] == card.identifier
    assert read.json()["data"]["id_number"] == env.holder.id_number
    assert env.received[DETAIL] == before + 1
    other_purpose = await env.client.get(url, headers=for_purpose(reader, "精准营销"))
    problem_type(other_purpose, 403, "consent-required")
    # A consent to a client is used with the client's own token: another resident signed in
    # through that client reads nothing of the holder's.
    granted_app = await env.client.post(
        f"{GW}/consents",
        json={
            "clientId": env.app_client["client_id"],
            "licenseType": ID_CARD,
            "purpose": purpose,
            "until": until,
        },
        headers=env.holder.headers,
    )
    assert granted_app.status_code == 201, granted_app.text
    through_app = await env.client.get(url, headers=for_purpose(env.other.headers, purpose))
    problem_type(through_app, 404, "license-not-found")
    # Granting the same again renews it (200), it does not pile up copies.
    later = (date.today() + timedelta(days=60)).isoformat()
    again = await env.client.post(
        f"{GW}/consents",
        json={"clientId": reader_id, "licenseType": ID_CARD, "purpose": purpose, "until": later},
        headers=env.holder.headers,
    )
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["until"]) == (consent["id"], later)
    # A purpose percent-encoded (clients that send only ASCII header values) is the same one.
    encoded = await env.client.get(url, headers={**reader, "Xyb-Purpose": quote(purpose, safe="")})
    assert encoded.status_code == 200, encoded.text
    # The consent is the holder's: it does not open another resident's license of the type.
    theirs = await env.client.get(
        f"{GW}/licenses/{env.other.valid().identifier}",
        headers=for_purpose(reader, purpose),
    )
    problem_type(theirs, 403, "consent-required")
    # An unknown license of the consented type answers like one whose holder did not consent.
    unknown = make_license_id(ID_CARD, "431281", "888888888888", 3)
    missing = await env.client.get(f"{GW}/licenses/{unknown}", headers=for_purpose(reader, purpose))
    # The same answer as a holder who did not consent: no oracle of which licenses exist.
    assert problem_type(missing, 403, "consent-required")["detail"] == theirs.json()["detail"]

    await env.app.state.audit.flush()
    log = await env.client.get("/identity/me/access-log", headers=env.holder.headers)
    assert log.status_code == 200, log.text
    reads = [r for r in log.json()["reads"] if r["kind"] == "license-read"]
    assert [(r["client"]["id"], r["purpose"]) for r in reads] == [(reader_id, purpose)] * 2
    # The other resident's log has nothing of it.
    theirs_log = await env.client.get("/identity/me/access-log", headers=env.other.headers)
    assert all(r["client"]["id"] != reader_id for r in theirs_log.json()["reads"])

    listed = await env.client.get(f"{GW}/consents", headers=env.holder.headers)
    assert listed.status_code == 200, listed.text
    mine = {c["id"]: c for c in listed.json()["items"]}
    assert consent["id"] in mine
    assert mine[consent["id"]]["purpose"] == purpose
    assert not (await env.client.get(f"{GW}/consents", headers=env.other.headers)).json()["items"]

    not_theirs = await env.client.delete(
        f"{GW}/consents/{consent['id']}", headers=env.other.headers
    )
    problem_type(not_theirs, 404, "consent-not-found")
    withdrawn = await env.client.delete(
        f"{GW}/consents/{consent['id']}", headers=env.holder.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawnAt"]
    assert withdrawn.json()["licenseTypeName"] == "居民身份证"
    # Withdrawing again answers it unchanged (DELETE is idempotent).
    again_withdrawn = await env.client.delete(
        f"{GW}/consents/{consent['id']}", headers=env.holder.headers
    )
    assert again_withdrawn.status_code == 200, again_withdrawn.text
    assert again_withdrawn.json()["withdrawnAt"] == withdrawn.json()["withdrawnAt"]
    after = await env.client.get(url, headers=for_purpose(reader, purpose))
    problem_type(after, 403, "consent-required")


# -- 6. issuing through the gateway ------------------------------------------------------------


async def test_a_department_issues_a_license_the_holder_then_lists(env: Env) -> None:
    kind = registry_types()["11100000000013338W001"]  # 二级建造师注册证书, a person's
    number = "4300002026" + env.holder.id_number[-6:].replace("X", "0")
    identifier = make_license_id(kind.code, "430000", number)
    today = date.today()
    data = {
        "holder_name": env.holder.name,
        "id_number": env.holder.id_number,
        "license_number": number,
        "qualification": "建筑工程",
        "level": "二级",
        "issue_date": today.strftime("%Y%m%d"),
        "valid_until": (today + timedelta(days=365 * 3)).strftime("%Y%m%d"),
        "issuer": "湖南省住房和城乡建设厅",
    }
    body: Json = {
        "licenseId": identifier,
        "holder": {"kind": "person", "name": env.holder.name, "code": env.holder.id_number},
        "issuer": {"name": "湖南省住房和城乡建设厅"},
        "validFrom": today.isoformat(),
        "validUntil": (today + timedelta(days=365 * 3)).isoformat(),
        "data": data,
    }
    not_department = await env.client.post(f"{GW}/licenses", json=body, headers=env.unroled)
    assert problem_type(not_department, 403, "role-required")["required_role"] == "department"
    head, check = identifier.rsplit(".", 1)
    wrong_check = next(c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != check)
    bad = await env.client.post(
        f"{GW}/licenses",
        json={**body, "licenseId": f"{head}.{wrong_check}"},
        headers=env.department,
    )
    detail = problem_type(bad, 422, "bad-license-id")["detail"]
    assert f"the check character should be {check}, not {wrong_check}" in detail

    issued = await env.client.post(f"{GW}/licenses", json=body, headers=env.department)
    assert issued.status_code == 201, issued.text
    license = issued.json()
    assert license["id"] == identifier
    assert license["type"]["code"] == kind.code
    assert license["status"] == "valid"
    assert license["holder"]["code"] == env.holder.id_number
    assert license["data"]["qualification"] == "建筑工程"

    listed = await env.client.get(
        f"{GW}/licenses", params={"type": kind.code}, headers=env.holder.headers
    )
    assert listed.status_code == 200, listed.text
    assert identifier in {i["id"] for i in listed.json()["items"]}

    again = await env.client.post(f"{GW}/licenses", json=body, headers=env.department)
    problem_type(again, 409, "license-conflict")


async def test_a_department_acts_only_within_its_division_and_writes_printable_text(
    env: Env,
) -> None:
    kind = registry_types()["11100000000013338W001"]
    today = date.today()
    number = "4312002026" + env.other.id_number[-6:].replace("X", "0")

    def body(issuer: str, **changes: Any) -> Json:
        return {
            "licenseId": make_license_id(kind.code, issuer, number),
            "holder": {"kind": "person", "name": env.other.name, "code": env.other.id_number},
            "issuer": {"name": "怀化市住房和城乡建设局"},
            "validFrom": today.isoformat(),
            "validUntil": None,
            "data": {"qualification": "市政公用工程"},
            **changes,
        }

    huaihua = await env.role_client("department", ["issueLicense", "revokeLicense"], "431200")
    outside = await env.client.post(f"{GW}/licenses", json=body("430100"), headers=huaihua)
    problem = problem_type(outside, 403, "role-required")
    assert problem["division"] == "431200"
    # A seeded license of a Changsha issuer: not Huaihua's to revoke.
    changsha = next(
        x for x in seeded_licenses(1) if x.issuer_code.startswith("4301") and x.revoked_on is None
    )
    revoke = await env.client.post(
        f"{GW}/licenses/{changsha.identifier}/revocation",
        json={"reason": "测试"},
        headers=huaihua,
    )
    problem_type(revoke, 403, "role-required")
    no_division = await env.role_client("department", ["issueLicense"])
    refused = await env.client.post(f"{GW}/licenses", json=body("431200"), headers=no_division)
    assert "division" in problem_type(refused, 403, "role-required")["detail"]
    # What holders and verifiers will read is printable text only.
    for changes, pointer in (
        (
            {"holder": {"kind": "person", "name": "王\u202e玲", "code": env.other.id_number}},
            "/body/holder/name",
        ),
        ({"data": {"qualification": "a\u0000b"}}, "/body/data/qualification"),
    ):
        hostile = await env.client.post(
            f"{GW}/licenses", json=body("431200", **changes), headers=huaihua
        )
        assert problem_type(hostile, 422, "validation-failed")["errors"][0]["pointer"] == pointer


async def test_a_license_not_yet_in_effect_cannot_be_shown(env: Env) -> None:
    kind = registry_types()["11100000000013338W001"]
    start = date.today() + timedelta(days=30)
    number = "4300002027" + env.holder.id_number[-6:].replace("X", "0")
    identifier = make_license_id(kind.code, "430000", number)
    issued = await env.client.post(
        f"{GW}/licenses",
        json={
            "licenseId": identifier,
            "holder": {"kind": "person", "name": env.holder.name, "code": env.holder.id_number},
            "issuer": {"name": "湖南省住房和城乡建设厅"},
            "validFrom": start.isoformat(),
            "validUntil": None,
            "data": {
                "holder_name": env.holder.name,
                "id_number": env.holder.id_number,
                "license_number": number,
                "qualification": "水利水电工程",
                "level": "二级",
                "issue_date": start.strftime("%Y%m%d"),
                "valid_until": (start + timedelta(days=365 * 3)).strftime("%Y%m%d"),
                "issuer": "湖南省住房和城乡建设厅",
            },
        },
        headers=env.department,
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["status"] == "pending"
    shown = await present(env, env.holder, licenseId=identifier)
    assert problem_type(shown, 409, "license-conflict")["licenseStatus"] == "pending"


# -- 7. the license-type target ----------------------------------------------------------------


def _targets(body: Json) -> dict[str, Json]:
    return {t["name"]: t for t in body["targets"]}


async def test_the_license_type_target_counts_the_registrys_types(env: Env) -> None:
    answer = await env.client.get("/ops/targets", headers=env.admin)
    assert answer.status_code == 200, answer.text
    licenses = _targets(answer.json())["license_types"]
    assert licenses["current"] == len(registry_types())
    assert f"{DIVISION}/{SLUG}" in licenses["source"]


THREE_TYPES = [t.as_json() for t in list(registry_types().values())[:3]]


def _three_type_registry(request: httpx.Request) -> httpx.Response:
    """A registry holding 3 license types: zzlx/query, a page at a time (nothing else)."""
    if request.url.path != "/api/v2/zzlx/query":
        return httpx.Response(
            404, json={"resultCode": "9404", "resultMsg": "接口不存在", "data": None}
        )
    asked = json.loads(request.content)
    page, size = int(asked.get("pageNo", 1)), int(asked.get("pageSize", 20))
    data = {
        "total": len(THREE_TYPES),
        "pageNo": page,
        "pageSize": size,
        "list": THREE_TYPES[(page - 1) * size : page * size],
    }
    return httpx.Response(200, json={"resultCode": "0000", "resultMsg": "成功", "data": data})


@pytest.fixture
def transport_factory() -> TransportFactory:
    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(_three_type_registry)

    return factory


async def test_a_registry_holding_three_types_reports_three(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    onboarded = await client.post(
        "/admin/services",
        json=onboarding(),
        headers=admin_headers,
    )
    assert onboarded.status_code == 201, onboarded.text
    answer = await client.get("/ops/targets", headers=admin_headers)
    assert answer.status_code == 200, answer.text
    assert _targets(answer.json())["license_types"]["current"] == 3


async def test_a_consent_goes_only_to_a_client_that_may_read_licenses(env: Env) -> None:
    verifier_id = env.client_ids[env.verifier["Authorization"]]
    until = (date.today() + timedelta(days=30)).isoformat()
    answer = await env.client.post(
        f"{GW}/consents",
        json={"clientId": verifier_id, "licenseType": ID_CARD, "purpose": "核验", "until": until},
        headers=env.holder.headers,
    )
    problem = problem_type(answer, 422, "validation-failed")
    assert problem["errors"] == [{"pointer": "/body/clientId", "detail": "no getLicense grant"}]
