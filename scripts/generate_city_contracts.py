"""(Re)write ``contracts/municipal/``: each city simulator's OpenAPI document and its contract.

For each of the 14 cities this writes ``<provider>.openapi.yaml`` (exactly the simulator's
``openapi_document(division)``) and ``<provider>.contract.yaml`` (the format of
``contracts/README.md``). The interactions are played against the city app in-process (httpx over
ASGI, no network) on a fixed clock, after ``POST /_sim/reset`` and the interaction's provider state;
the matchers' examples are taken from those real answers, and every matcher is checked against the
answer it came from before anything is written. The same data and the same clock make the same
files, byte for byte.

    .venv/bin/python scripts/generate_city_contracts.py           # rewrite the 28 files
    .venv/bin/python scripts/generate_city_contracts.py --check   # exit 1 if any is stale
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.core.identifiers import make_resident_id, validate_resident_id
from app.simulators import PROVIDER_STATES, SimulatorProvider, simulators
from app.simulators.city import data as d
from app.simulators.city.api import SHANGHAI
from app.simulators.city.fields import (
    BIRTH_CERTIFICATE_PATTERN,
    ID_NUMBER_PATTERN,
    MONTH_PATTERN,
    PHONE_PATTERN,
    RESIDENCE_REASONS,
    SEXES,
)
from app.simulators.city.openapi import OPERATIONS, USCC_PATTERN

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "contracts" / "municipal"
CONNECTOR = "municipal"

# The clock the answers are taken on: 20 November 2023, 10:00 in China (the seed is of 2023).
NOW = datetime(2023, 11, 20, 10, 0, tzinfo=SHANGHAI)

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$"
)
ACCOUNT_NO_PATTERN = r"^[0-9]{12}$"
JSON_CONTENT_TYPE = {"$regex": "^application/json", "example": "application/json"}

Matcher = Any  # a literal, or a {$type | $regex | $anyOf | $each: ...} map, or a tree of them
Json = Any


def fixed_clock() -> datetime:
    """Always ``NOW``."""
    return NOW


# -- matchers ---------------------------------------------------------------------------------

_TYPES: Mapping[str, Callable[[Json], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def conforms(matcher: Matcher, actual: Json) -> bool:
    """Whether ``actual`` matches ``matcher`` as contracts/README.md defines it (a self-check)."""
    if isinstance(matcher, dict):
        if "$type" in matcher:
            return _TYPES[matcher["$type"]](actual)
        if "$regex" in matcher:
            return isinstance(actual, str) and re.search(matcher["$regex"], actual) is not None
        if "$anyOf" in matcher:
            return any(conforms(m, actual) for m in matcher["$anyOf"])
        if "$each" in matcher:
            return (
                isinstance(actual, list)
                and len(actual) >= matcher.get("$min", 0)
                and all(conforms(matcher["$each"], item) for item in actual)
            )
        return isinstance(actual, dict) and all(
            key in actual and conforms(m, actual[key]) for key, m in matcher.items()
        )
    if isinstance(matcher, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(matcher)
            and all(conforms(m, a) for m, a in zip(matcher, actual, strict=False))
        )
    if isinstance(matcher, bool) or isinstance(actual, bool):
        return matcher is actual
    return bool(matcher == actual)


def typed(kind: str, value: Json) -> Matcher:
    """Any value of JSON type ``kind``; ``value`` (from the real answer) is the example."""
    if not _TYPES[kind](value):
        raise ValueError(f"{value!r} is not of type {kind}")
    return {"$type": kind, "example": value}


def regex(pattern: str, value: Json) -> Matcher:
    """A string ``pattern`` matches; ``value`` (from the real answer) is the example."""
    if not isinstance(value, str) or re.search(pattern, value) is None:
        raise ValueError(f"{value!r} does not match {pattern}")
    return {"$regex": pattern, "example": value}


def any_of(value: Json, *alternatives: Matcher) -> Matcher:
    """One of ``alternatives``, the first that ``value`` matches put first (stubs answer it)."""
    first = next((m for m in alternatives if conforms(m, value)), None)
    if first is None:
        raise ValueError(f"{value!r} matches none of {alternatives!r}")
    return {"$anyOf": [first, *(m for m in alternatives if m is not first)]}


def nullable(value: Json, matcher: Callable[[Json], Matcher], example_if_null: Json) -> Matcher:
    """``matcher`` or null, whichever ``value`` is first."""
    if value is None:
        return {"$anyOf": [{"$type": "null", "example": None}, matcher(example_if_null)]}
    return {"$anyOf": [matcher(value), {"$type": "null", "example": None}]}


def each(item: Callable[[Json], Matcher], values: Json, minimum: int = 1) -> Matcher:
    """An array of at least ``minimum`` elements, each matching ``item(first element)``."""
    if not isinstance(values, list) or len(values) < max(minimum, 1):
        raise ValueError(f"expected at least {max(minimum, 1)} elements, got {values!r}")
    return {"$each": item(values[0]), "$min": minimum, "example": values[:2]}


# -- response bodies --------------------------------------------------------------------------


def error_body(status: int, field: str | None = None) -> Callable[[Json], Matcher]:
    """The city's error format: the code is literal, the message any string."""

    def body(answer: Json) -> Matcher:
        matcher: dict[str, Matcher] = {
            "code": f"E{status}",
            "message": typed("string", answer["message"]),
        }
        if field is not None:
            matcher["errors"] = each(
                lambda e: {"field": field, "message": typed("string", e["message"])},
                answer["errors"],
            )
        return matcher

    return body


@dataclass(frozen=True, slots=True)
class City:
    division: str
    provider: str
    name: str
    short_name: str

    @property
    def record_id_pattern(self) -> str:
        return rf"^BDC{self.division}-[0-9]{{4}}-[0-9]{{7}}$"

    @property
    def application_id_pattern(self) -> str:
        return rf"^JZZ{self.division}-[0-9]{{6}}$"

    @property
    def registration_id_pattern(self) -> str:
        return rf"^CSDJ{self.division}-[0-9]{{6}}$"

    @property
    def cert_no_pattern(self) -> str:
        return rf"^湘\([0-9]{{4}}\){re.escape(self.short_name)}不动产权第[0-9]{{7}}号$"


def estate_record_body(
    city: City, record: Json, *, record_id: str | None = None, owner: str | None = None
) -> Matcher:
    """A property record; ``record_id`` and ``owner`` are literal when an interaction names them."""
    return {
        "record_id": record_id or regex(city.record_id_pattern, record["record_id"]),
        "cert_no": regex(city.cert_no_pattern, record["cert_no"]),
        "owner_name": typed("string", record["owner_name"]),
        "owner_id_number": owner or regex(ID_NUMBER_PATTERN, record["owner_id_number"]),
        "location": typed("string", record["location"]),
        "usage": any_of(record["usage"], *d.ESTATE_USAGES),
        "floor_area": typed("number", record["floor_area"]),
        "ownership": any_of(record["ownership"], *d.OWNERSHIPS),
        "registered_on": regex(DATE_PATTERN, record["registered_on"]),
        "land_term_end": regex(DATE_PATTERN, record["land_term_end"]),
        "status": any_of(record["status"], *d.ESTATE_STATUSES),
        "mortgagee": nullable(record["mortgagee"], lambda v: typed("string", v), "中国建设银行"),
        "mortgage_amount": nullable(
            record["mortgage_amount"], lambda v: typed("number", v), 500000.0
        ),
    }


def fund_account_body(id_number: str) -> Callable[[Json], Matcher]:
    def body(a: Json) -> Matcher:
        return {
            "account_no": regex(ACCOUNT_NO_PATTERN, a["account_no"]),
            "id_number": id_number,
            "name": typed("string", a["name"]),
            "employer_name": typed("string", a["employer_name"]),
            "employer_uscc": regex(USCC_PATTERN, a["employer_uscc"]),
            "status": any_of(a["status"], *d.FUND_STATUSES),
            "opened_on": regex(DATE_PATTERN, a["opened_on"]),
            "sealed_on": nullable(a["sealed_on"], lambda v: regex(DATE_PATTERN, v), a["opened_on"]),
            "deposit_rate": typed("number", a["deposit_rate"]),
            "deposit_base": typed("number", a["deposit_base"]),
            "monthly_deposit": typed("number", a["monthly_deposit"]),
            "balance": typed("number", a["balance"]),
            "last_deposit_month": nullable(
                a["last_deposit_month"], lambda v: regex(MONTH_PATTERN, v), "2023-11"
            ),
        }

    return body


def deposits_body(id_number: str, year: int) -> Callable[[Json], Matcher]:
    def deposit(x: Json) -> Matcher:
        return {
            "month": regex(rf"^{year}-(0[1-9]|1[0-2])$", x["month"]),
            "deposited_on": regex(DATE_PATTERN, x["deposited_on"]),
            "base": typed("number", x["base"]),
            "personal": typed("number", x["personal"]),
            "employer": typed("number", x["employer"]),
            "total": typed("number", x["total"]),
        }

    def body(a: Json) -> Matcher:
        return {
            "id_number": id_number,
            "account_no": regex(ACCOUNT_NO_PATTERN, a["account_no"]),
            "year": year,
            "total": typed("number", a["total"]),
            "deposits": each(deposit, a["deposits"]),
        }

    return body


def contributions_body(id_number: str, start: str, end: str) -> Callable[[Json], Matcher]:
    def record(r: Json) -> Matcher:
        return {
            "month": regex(MONTH_PATTERN, r["month"]),
            "insurance": any_of(r["insurance"], *d.INSURANCES),
            "base": typed("number", r["base"]),
            "personal": typed("number", r["personal"]),
            "employer": typed("number", r["employer"]),
            "payer": typed("string", r["payer"]),
            "status": any_of(r["status"], *d.CONTRIBUTION_STATUSES),
        }

    def body(a: Json) -> Matcher:
        return {
            "id_number": id_number,
            "name": typed("string", a["name"]),
            "from": start,
            "to": end,
            "total_personal": typed("number", a["total_personal"]),
            "total_employer": typed("number", a["total_employer"]),
            "records": each(record, a["records"]),
        }

    return body


def application_body(
    city: City, *, sent: Mapping[str, str] | None = None, application_id: str | None = None
) -> Callable[[Json], Matcher]:
    """A residence permit application: what was sent (or the given id) literal, the rest typed."""

    def body(a: Json) -> Matcher:
        if sent is not None:
            echoed: dict[str, Matcher] = dict(sent)
        else:
            echoed = {
                "applicant_name": typed("string", a["applicant_name"]),
                "id_number": regex(ID_NUMBER_PATTERN, a["id_number"]),
                "phone": regex(PHONE_PATTERN, a["phone"]),
                "address": typed("string", a["address"]),
                "reason": any_of(a["reason"], *RESIDENCE_REASONS),
                "residence_since": regex(DATE_PATTERN, a["residence_since"]),
                "employer_name": nullable(
                    a["employer_name"], lambda v: typed("string", v), "某某有限公司"
                ),
            }
        return {
            "application_id": application_id
            or regex(city.application_id_pattern, a["application_id"]),
            "status": a["status"] if sent is None else d.APPLICATION_STATUSES[0],
            "submitted_at": regex(DATE_TIME_PATTERN, a["submitted_at"]),
            "promised_by": regex(DATE_PATTERN, a["promised_by"]),
            **echoed,
        }

    return body


def registration_body(
    city: City, *, sent: Mapping[str, str] | None = None, registration_id: str | None = None
) -> Callable[[Json], Matcher]:
    """A birth registration: what was sent (or the given id) literal, the rest typed."""

    def body(a: Json) -> Matcher:
        if sent is not None:
            echoed: dict[str, Matcher] = dict(sent)
        else:
            echoed = {
                "baby_name": typed("string", a["baby_name"]),
                "sex": any_of(a["sex"], *SEXES),
                "birth_date": regex(DATE_PATTERN, a["birth_date"]),
                "mother_id_number": regex(ID_NUMBER_PATTERN, a["mother_id_number"]),
                "hospital": typed("string", a["hospital"]),
                "birth_certificate_no": regex(BIRTH_CERTIFICATE_PATTERN, a["birth_certificate_no"]),
            }
        return {
            "registration_id": registration_id
            or regex(city.registration_id_pattern, a["registration_id"]),
            "status": d.REGISTRATION_STATUSES[0],
            "registered_at": regex(DATE_TIME_PATTERN, a["registered_at"]),
            **echoed,
            "household_address": typed("string", a["household_address"]),
        }

    return body


# -- interactions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """An interaction to play and write down."""

    id: str
    description: str
    operation: str  # the operationId without the division suffix
    request: dict[str, Any]  # method, path, and query / json / form
    status: int
    body: Callable[[Json], Matcher]
    given: tuple[str, dict[str, Any]] | None = None
    location: str | None = None  # a pattern the Location header must match


@dataclass(frozen=True, slots=True)
class Picks:
    """The concrete data of one city's interactions, chosen from its seed."""

    estate_owner: d.Resident
    estate_record: d.EstateRecord
    fund_holder: d.Resident
    insured: d.Resident
    mother: d.Resident
    unknown_id: str
    invalid_id: str
    applicant_id: str


def _wrong_check_char(id_number: str) -> str:
    chars = "0123456789X"
    wrong = id_number[:17] + chars[(chars.index(id_number[17].upper()) + 1) % len(chars)]
    assert validate_resident_id(wrong, today=NOW.date()), wrong
    return wrong


def picks(division: str) -> Picks:
    seed = d.city_data(division)
    residents = list(seed.residents.values())
    owners = [
        r for r in residents if any(e.owner_id_number == r.id_number for e in seed.estates.values())
    ]
    several = [
        r
        for r in owners
        if sum(e.owner_id_number == r.id_number for e in seed.estates.values()) > 1
    ]
    estates = list(seed.estates.values())
    mortgaged = [e for e in estates if e.status == "抵押"]
    fund_holder = next(
        r
        for r in residents
        if (account := seed.fund_accounts.get(r.id_number)) is not None
        and account.status == d.FUND_STATUSES[0]
        and account.opened_on <= date(2021, 1, 1)
    )
    insured = next(
        r
        for r in residents
        if r.employer is not None
        and r.insured_since is not None
        and r.insured_since <= date(2022, 1, 1)
        and r.id_number != fund_holder.id_number
    )
    mother = next(r for r in residents if r.sex == "女" and 1985 <= r.birth_date.year <= 1998)
    last_county = seed.counties[-1].code
    unknown_id = next(
        i
        for sequence in range(1000)
        if (i := make_resident_id(last_county, date(1977, 7, 7), sequence)) not in seed.residents
    )
    return Picks(
        estate_owner=(several or owners)[0],
        estate_record=(mortgaged or estates)[0],
        fund_holder=fund_holder,
        insured=insured,
        mother=mother,
        unknown_id=unknown_id,
        invalid_id=_wrong_check_char(fund_holder.id_number),
        # Residence permits are for people from elsewhere: a resident of 南昌市东湖区 (Jiangxi).
        applicant_id=make_resident_id("360102", date(1994, 5, 20), 246),
    )


def plans(city: City) -> list[Plan]:
    """The interactions of one city, covering each of its nine operations."""
    p = picks(city.division)
    seed = d.city_data(city.division)
    owner, holder, insured = p.estate_owner.id_number, p.fund_holder.id_number, p.insured.id_number
    record_id = p.estate_record.record_id
    application_id = f"JZZ{city.division}-000123"
    registration_id = f"CSDJ{city.division}-000042"
    permit = {
        "applicant_name": "刘晓燕",
        "id_number": p.applicant_id,
        "phone": "13807310001",
        "address": f"{city.name}{seed.counties[0].name}人民路88号和顺小区3栋1202室",
        "reason": "就业",
        "residence_since": "2022-03-01",
        "employer_name": seed.employers[0].name,
    }
    birth = {
        "baby_name": p.mother.name[0] + "子涵",
        "sex": "男",
        "birth_date": "2023-10-08",
        "mother_id_number": p.mother.id_number,
        "hospital": f"{city.name}妇幼保健院",
        "birth_certificate_no": f"R{city.division}001",
    }
    return [
        Plan(
            id="estate-records-by-id-number",
            description="按证件号查询名下的不动产登记记录",
            operation="listEstateRecords",
            given=("a resident with real-estate records", {"id_number": owner}),
            request={"method": "GET", "path": "/bdc/records", "query": {"id_number": owner}},
            status=200,
            body=lambda a: {
                "id_number": owner,
                "total": typed("integer", a["total"]),
                "records": each(lambda r: estate_record_body(city, r, owner=owner), a["records"]),
            },
        ),
        Plan(
            id="estate-record-by-id",
            description="按记录编号查询一条不动产登记记录",
            operation="getEstateRecord",
            given=("a real-estate record exists", {"record_id": record_id}),
            request={"method": "GET", "path": f"/bdc/records/{record_id}"},
            status=200,
            body=lambda a: estate_record_body(city, a, record_id=record_id),
        ),
        Plan(
            id="invalid-id-number",
            description="证件号校验位不正确（GB 11643）：400",
            operation="listEstateRecords",
            request={"method": "GET", "path": "/bdc/records", "query": {"id_number": p.invalid_id}},
            status=400,
            body=error_body(400, "id_number"),
        ),
        Plan(
            id="fund-account-found",
            description="查询一个有公积金账户的居民",
            operation="getFundAccount",
            given=("a resident with a provident fund account", {"id_number": holder}),
            request={"method": "GET", "path": f"/gjj/accounts/{holder}"},
            status=200,
            body=fund_account_body(holder),
        ),
        Plan(
            id="fund-account-not-found",
            description="查询一个本市没有任何记录的证件号：404",
            operation="getFundAccount",
            given=("no resident with this ID number", {"id_number": p.unknown_id}),
            request={"method": "GET", "path": f"/gjj/accounts/{p.unknown_id}"},
            status=404,
            body=error_body(404),
        ),
        Plan(
            id="fund-deposits-of-a-year",
            description="查询公积金账户一个年度的月缴存明细",
            operation="listFundDeposits",
            given=("a resident with a provident fund account", {"id_number": holder}),
            request={
                "method": "GET",
                "path": f"/gjj/accounts/{holder}/deposits",
                "query": {"year": "2023"},
            },
            status=200,
            body=deposits_body(holder, 2023),
        ),
        Plan(
            id="contributions-for-a-month-range",
            description="查询2023年1月至6月的社会保险个人缴费记录",
            operation="listContributions",
            given=("a resident with social-insurance contributions", {"id_number": insured}),
            request={
                "method": "GET",
                "path": "/shebao/contributions",
                "query": {"id_number": insured, "from": "2023-01", "to": "2023-06"},
            },
            status=200,
            body=contributions_body(insured, "2023-01", "2023-06"),
        ),
        Plan(
            id="residence-permit-application-created",
            description="外省来的就业人员申领居住证：201，受理",
            operation="createResidencePermitApplication",
            request={"method": "POST", "path": "/jzz/applications", "json": permit},
            status=201,
            body=application_body(city, sent=permit),
            location=rf"^/jzz/applications/JZZ{city.division}-[0-9]{{6}}$",
        ),
        Plan(
            id="residence-permit-application-found",
            description="查询一件审核中的居住证申领",
            operation="getResidencePermitApplication",
            given=(
                "a residence permit application exists",
                {"application_id": application_id, "status": "审核中"},
            ),
            request={"method": "GET", "path": f"/jzz/applications/{application_id}"},
            status=200,
            body=application_body(city, application_id=application_id),
        ),
        Plan(
            id="birth-registration-created",
            description="本市户籍的母亲为新生儿办理出生登记（表单）：201",
            operation="createBirthRegistration",
            given=("a resident exists", {"id_number": p.mother.id_number}),
            request={"method": "POST", "path": "/birth/registrations", "form": birth},
            status=201,
            body=registration_body(city, sent=birth),
            location=rf"^/birth/registrations/CSDJ{city.division}-[0-9]{{6}}$",
        ),
        Plan(
            id="birth-registration-found",
            description="查询一条出生登记",
            operation="getBirthRegistration",
            given=("a birth registration exists", {"registration_id": registration_id}),
            request={"method": "GET", "path": f"/birth/registrations/{registration_id}"},
            status=200,
            body=registration_body(city, registration_id=registration_id),
        ),
    ]


# -- playing and writing ----------------------------------------------------------------------


class GenerationError(Exception):
    """The simulator did not answer what an interaction expects."""


async def _play(client: httpx.AsyncClient, city: City, plan: Plan) -> dict[str, Any]:
    """Play ``plan`` against the app and write it down as a contract interaction."""
    where = f"{city.provider}/{plan.id}"
    reset = await client.post("/_sim/reset")
    if reset.status_code != 204:
        raise GenerationError(f"{where}: /_sim/reset answered {reset.status_code}")
    interaction: dict[str, Any] = {
        "id": plan.id,
        "description": plan.description,
        "operation": f"{plan.operation}_{city.division}",
    }
    if plan.given is not None:
        state, params = plan.given
        if state not in PROVIDER_STATES:
            raise GenerationError(f"{where}: unknown provider state {state!r}")
        arranged = await client.post(
            "/_sim/provider-state", json={"state": state, "params": params}
        )
        if arranged.status_code != 200:
            raise GenerationError(f"{where}: provider state failed: {arranged.text}")
        interaction["given"] = {"state": state, "params": dict(params)}
    request = plan.request
    answer = await client.request(
        request["method"],
        request["path"],
        params=request.get("query"),
        json=request.get("json"),
        data=request.get("form"),
    )
    if answer.status_code != plan.status:
        raise GenerationError(
            f"{where}: expected {plan.status}, the simulator answered {answer.status_code}: "
            f"{answer.text}"
        )
    actual = answer.json()
    body = plan.body(actual)
    headers: dict[str, Matcher] = {"Content-Type": dict(JSON_CONTENT_TYPE)}
    if plan.location is not None:
        headers["Location"] = regex(plan.location, answer.headers.get("location"))
    for name, matcher in headers.items():
        if not conforms(matcher, answer.headers.get(name)):
            raise GenerationError(f"{where}: header {name} does not match {matcher}")
    if not conforms(body, actual):
        raise GenerationError(f"{where}: the body matchers do not match the answer {actual}")
    interaction["request"] = dict(request)
    interaction["response"] = {"status": plan.status, "headers": headers, "body": body}
    return interaction


async def contract(simulator: SimulatorProvider, openapi_sha256: str) -> dict[str, Any]:
    """The contract of one city simulator, its interactions played on the fixed clock."""
    division = simulator.division
    seed = d.city_data(division)
    city = City(division, simulator.provider, seed.division.name, seed.short_name)
    app = simulator.create(clock=fixed_clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        interactions = [await _play(client, city, plan) for plan in plans(city)]
    covered = {i["operation"] for i in interactions}
    missing = [
        f"{op.name}_{division}" for op in OPERATIONS if f"{op.name}_{division}" not in covered
    ]
    if missing:
        raise GenerationError(f"{city.provider}: no interaction for {', '.join(missing)}")
    return {
        "format": 1,
        "connector": CONNECTOR,
        "provider": simulator.provider,
        "description": f"{city.name}政务服务 (the city simulator for {division})",
        "openapi": {"path": f"{simulator.provider}.openapi.yaml", "sha256": openapi_sha256},
        "interactions": interactions,
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(value: Any) -> str:
    """Readable block-style YAML, keys in order, Chinese as is."""
    text: str = yaml.dump(
        value,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return text


async def generate() -> dict[Path, bytes]:
    """Every file of ``contracts/municipal/`` this script owns, with its bytes."""
    files: dict[Path, bytes] = {}
    for simulator in simulators():
        if simulator.connector != CONNECTOR:
            continue
        document = simulator.document().encode("utf-8")
        files[OUT / f"{simulator.provider}.openapi.yaml"] = document
        made = await contract(simulator, hashlib.sha256(document).hexdigest())
        files[OUT / f"{simulator.provider}.contract.yaml"] = to_yaml(made).encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    args = parser.parse_args(argv)
    try:
        files = asyncio.run(generate())
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stale = [
        path
        for path, content in files.items()
        if not path.is_file() or path.read_bytes() != content
    ]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: .venv/bin/python scripts/generate_city_contracts.py", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_bytes(content := files[path])
        print(f"wrote {path.relative_to(ROOT)} ({len(content)} bytes)")
    print(f"{len(files)} files in {OUT.relative_to(ROOT)}, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
