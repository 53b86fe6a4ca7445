"""The HTTP face of a simulated city system: its routes, its error format, its state.

Errors are the city's own JSON, ``{"code": "E404", "message": "..."}`` (plus ``errors`` with the
fields at fault), with real statuses: 400 for an unusable parameter or an ID number that fails
GB 11643, 404 for nothing found, 415 for a body of the wrong media type, 422 for a body that does
not fit. The gateway passes them through unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.city import data as d
from app.simulators.city.fields import (
    APPLICATION_ID_PATTERN,
    BIRTH_FIELDS,
    ID_NUMBER_PATTERN,
    MONTH_PATTERN,
    RECORD_ID_PATTERN,
    REGISTRATION_ID_PATTERN,
    RESIDENCE_PERMIT_FIELDS,
    check_fields,
    matches,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
Clock = Callable[[], datetime]
MAX_MONTHS = 60  # the longest span /shebao/contributions answers
PERMIT_TIME_LIMIT = timedelta(days=15)  # 居住证: issued within 15 days of acceptance

_MESSAGES = {
    400: "请求参数错误",
    404: "未找到相关记录",
    405: "不支持的请求方法",
    415: "不支持的请求体类型",
    422: "请求内容校验未通过",
    429: "请求过于频繁，请稍后再试",
    500: "系统内部错误",
    502: "上游系统异常",
    503: "系统繁忙，请稍后再试",
    504: "系统处理超时",
}


def shanghai_now() -> datetime:
    """The current time in China."""
    return datetime.now(SHANGHAI)


class CityError(Exception):
    """An answer in the city's error format."""

    def __init__(
        self, status: int, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def city_error(
    status: int, message: str | None = None, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    """A response in the city's error format."""
    body: dict[str, Any] = {
        "code": f"E{status}",
        "message": message or _MESSAGES.get(status, "错误"),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class CityState:
    """The data one simulator instance serves: the seeded records plus what requests created."""

    def __init__(self, division: str, clock: Clock) -> None:
        self.seed = d.city_data(division)
        self.division = division
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Back to the seeded data: created applications and registrations are forgotten."""
        self.residents: dict[str, d.Resident] = dict(self.seed.residents)
        self.estates: dict[str, d.EstateRecord] = dict(self.seed.estates)
        self.fund_accounts: dict[str, d.FundAccount] = dict(self.seed.fund_accounts)
        self.applications: dict[str, dict[str, Any]] = {}
        self.registrations: dict[str, dict[str, Any]] = {}
        self.sequences: dict[str, int] = {}

    def today(self) -> date:
        """Today in China."""
        return self.clock().date()

    def next_id(self, prefix: str) -> str:
        """A new application or registration id, ``<prefix><division>-<6 digits>``."""
        number = self.sequences.get(prefix, 0) + 1
        self.sequences[prefix] = number
        return f"{prefix}{self.division}-{number:06d}"

    def estates_of(self, id_number: str) -> list[d.EstateRecord]:
        """The property records of one owner, oldest first."""
        found = [r for r in self.estates.values() if r.owner_id_number == id_number]
        return sorted(found, key=lambda r: (r.registered_on, r.record_id))

    # -- rendering ---------------------------------------------------------------------------

    def estate_json(self, record: d.EstateRecord) -> dict[str, Any]:
        """A property record as the city system answers it."""
        return {
            "record_id": record.record_id,
            "cert_no": record.cert_no,
            "owner_name": record.owner_name,
            "owner_id_number": record.owner_id_number,
            "location": record.location,
            "usage": record.usage,
            "floor_area": record.floor_area,
            "ownership": record.ownership,
            "registered_on": record.registered_on.isoformat(),
            "land_term_end": record.land_term_end.isoformat(),
            "status": record.status,
            "mortgagee": record.mortgagee,
            "mortgage_amount": record.mortgage_amount,
        }

    def account_json(self, account: d.FundAccount) -> dict[str, Any]:
        """A provident fund account, its balance computed up to today."""
        resident = self.residents[account.id_number]
        today = self.today()
        base = d.base_in(today.year, resident.base_2023)
        monthly = round(base * account.rate, 2)
        return {
            "account_no": account.account_no,
            "id_number": account.id_number,
            "name": account.name,
            "employer_name": account.employer.name,
            "employer_uscc": account.employer.uscc,
            "status": account.status,
            "opened_on": account.opened_on.isoformat(),
            "sealed_on": _iso(account.sealed_on),
            "deposit_rate": account.rate,
            "deposit_base": base,
            "monthly_deposit": round(monthly * 2, 2),
            "balance": d.fund_balance(account, resident, today),
            "last_deposit_month": d.last_deposit_month(account, today),
        }


def checked_id_number(value: str, field: str, today: date) -> str:
    """The normalised ID number, or a 400 naming every reason it is not valid."""
    if not matches(ID_NUMBER_PATTERN, value):
        raise CityError(400, "公民身份号码格式不正确", [{"field": field, "message": "应为18位"}])
    reasons = validate_resident_id(value, today=today)
    if reasons:
        raise CityError(
            400,
            "公民身份号码校验未通过",
            [{"field": field, "message": reason} for reason in reasons],
        )
    return normalise_resident_id(value)


def _query_id_number(state: CityState, request: Request) -> str:
    value = request.query_params.get("id_number")
    if value is None:
        raise CityError(400, "缺少查询参数id_number", [{"field": "id_number", "message": "必填"}])
    return checked_id_number(value, "id_number", state.today())


def _month(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not matches(MONTH_PATTERN, value):
        raise CityError(
            400, f"{name}应为YYYY-MM格式的月份", [{"field": name, "message": "格式不正确"}]
        )
    year, month = value.strip().split("-")
    return date(int(year), int(month), 1)


def _path_id(request: Request, name: str, pattern: str) -> str:
    value: str = request.path_params[name]
    if not matches(pattern, value):
        raise CityError(400, f"{name}格式不正确", [{"field": name, "message": "格式不正确"}])
    return value.strip()


def _state(request: Request) -> CityState:
    state: CityState = request.app.state.city
    return state


# -- 不动产登记 --------------------------------------------------------------------------------


async def list_estate_records(request: Request) -> Response:
    """The property records registered to an ID number."""
    state = _state(request)
    id_number = _query_id_number(state, request)
    records = state.estates_of(id_number)
    if not records:
        raise CityError(404, "未找到该证件号对应的不动产登记记录")
    return JSONResponse(
        {
            "id_number": id_number,
            "total": len(records),
            "records": [state.estate_json(r) for r in records],
        }
    )


async def get_estate_record(request: Request) -> Response:
    """One property record by its record id."""
    state = _state(request)
    record = state.estates.get(_path_id(request, "record_id", RECORD_ID_PATTERN))
    if record is None:
        raise CityError(404, "未找到该不动产登记记录")
    return JSONResponse(state.estate_json(record))


# -- 住房公积金 ---------------------------------------------------------------------------------


def _fund_account(request: Request) -> tuple[CityState, d.FundAccount]:
    state = _state(request)
    id_number = checked_id_number(request.path_params["id_number"], "id_number", state.today())
    account = state.fund_accounts.get(id_number)
    if account is None:
        raise CityError(404, "未找到该证件号对应的住房公积金账户")
    return state, account


async def get_fund_account(request: Request) -> Response:
    """A provident fund account by its holder's ID number."""
    state, account = _fund_account(request)
    return JSONResponse(state.account_json(account))


async def list_fund_deposits(request: Request) -> Response:
    """The monthly deposits of one year (this year by default)."""
    state, account = _fund_account(request)
    raw = request.query_params.get("year")
    year = state.today().year
    if raw is not None:
        if re.fullmatch(r"-?[0-9]+", raw) is None:
            raise CityError(400, "year应为整数", [{"field": "year", "message": "应为整数"}])
        year = int(raw)
        if not 1991 <= year <= 2100:
            raise CityError(
                400, "year超出范围", [{"field": "year", "message": "应在1991至2100之间"}]
            )
    resident = state.residents[account.id_number]
    deposits = d.deposits(account, resident, year, state.today())
    return JSONResponse(
        {
            "id_number": account.id_number,
            "account_no": account.account_no,
            "year": year,
            "total": round(sum(x.personal + x.employer for x in deposits), 2),
            "deposits": [
                {
                    "month": x.month,
                    "deposited_on": x.deposited_on.isoformat(),
                    "base": x.base,
                    "personal": x.personal,
                    "employer": x.employer,
                    "total": round(x.personal + x.employer, 2),
                }
                for x in deposits
            ],
        }
    )


# -- 社会保险 -----------------------------------------------------------------------------------


async def list_contributions(request: Request) -> Response:
    """Monthly social insurance contributions of a resident over a span of months."""
    state = _state(request)
    id_number = _query_id_number(state, request)
    today = state.today()
    end = _month(request, "to") or date(today.year, today.month, 1)
    start = _month(request, "from") or date(end.year, 1, 1)
    if start > end:
        raise CityError(400, "起始月份不能晚于截止月份", [{"field": "from", "message": "晚于to"}])
    span = (end.year - start.year) * 12 + end.month - start.month + 1
    if span > MAX_MONTHS:
        raise CityError(
            400, f"查询跨度不能超过{MAX_MONTHS}个月", [{"field": "to", "message": "跨度过长"}]
        )
    resident = state.residents.get(id_number)
    if resident is None or resident.insured_since is None:
        raise CityError(404, "未找到该证件号的参保记录")
    records = d.contributions(resident, start, end, today)
    return JSONResponse(
        {
            "id_number": id_number,
            "name": resident.name,
            "from": d.month_key(start),
            "to": d.month_key(end),
            "total_personal": round(sum(r.personal for r in records), 2),
            "total_employer": round(sum(r.employer for r in records), 2),
            "records": [
                {
                    "month": r.month,
                    "insurance": r.insurance,
                    "base": r.base,
                    "personal": r.personal,
                    "employer": r.employer,
                    "payer": r.payer,
                    "status": r.status,
                }
                for r in records
            ],
        }
    )


# -- 居住证 -------------------------------------------------------------------------------------


async def _json_object(request: Request) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise CityError(415, "请求体应为application/json")
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise CityError(400, "请求体不是合法的JSON") from exc
    if not isinstance(body, dict):
        raise CityError(422, "请求体应为JSON对象", [])
    return body


async def create_residence_permit_application(request: Request) -> Response:
    """Apply for a residence permit (居住证申领); answered 201 with status 受理."""
    state = _state(request)
    body = await _json_object(request)
    errors = check_fields(RESIDENCE_PERMIT_FIELDS, body)
    if errors:
        raise CityError(422, _MESSAGES[422], errors)
    id_number = checked_id_number(body["id_number"], "id_number", state.today())
    since = date.fromisoformat(body["residence_since"])
    now = state.clock()
    if since > now.date():
        errors.append({"field": "residence_since", "message": "不能晚于今天"})
    elif since > d.add_months(now.date(), -6):
        errors.append({"field": "residence_since", "message": "居住未满半年，不符合申领条件"})
    if body["reason"] == "就业" and not body.get("employer_name"):
        errors.append({"field": "employer_name", "message": "申领事由为就业时必填"})
    if errors:
        raise CityError(422, _MESSAGES[422], errors)
    application = {
        "application_id": state.next_id("JZZ"),
        "status": d.APPLICATION_STATUSES[0],
        "submitted_at": now.isoformat(timespec="seconds"),
        "promised_by": (now.date() + PERMIT_TIME_LIMIT).isoformat(),
        "applicant_name": body["applicant_name"],
        "id_number": id_number,
        "phone": body["phone"],
        "address": body["address"],
        "reason": body["reason"],
        "residence_since": since.isoformat(),
        "employer_name": body.get("employer_name"),
    }
    state.applications[application["application_id"]] = application
    location = f"/jzz/applications/{application['application_id']}"
    return JSONResponse(application, status_code=201, headers={"Location": location})


async def get_residence_permit_application(request: Request) -> Response:
    """A residence permit application and its progress."""
    state = _state(request)
    application_id = _path_id(request, "application_id", APPLICATION_ID_PATTERN)
    application = state.applications.get(application_id)
    if application is None:
        raise CityError(404, "未找到该居住证申请")
    return JSONResponse(application)


# -- 出生登记 -----------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise CityError(415, "请求体应为application/x-www-form-urlencoded")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CityError(400, "请求体不是UTF-8编码") from exc
    form: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(key, value)
    return form


async def create_birth_registration(request: Request) -> Response:
    """Register a newborn (出生登记) from a form; one parent must be a resident of the city."""
    state = _state(request)
    form = await _form(request)
    errors = check_fields(BIRTH_FIELDS, form)
    if errors:
        raise CityError(422, _MESSAGES[422], errors)
    mother = checked_id_number(form["mother_id_number"], "mother_id_number", state.today())
    father = form.get("father_id_number")
    if father is not None:
        father = checked_id_number(father, "father_id_number", state.today())
    now = state.clock()
    born = date.fromisoformat(form["birth_date"])
    if born > now.date():
        errors.append({"field": "birth_date", "message": "不能晚于今天"})
    if int(mother[16]) % 2:
        errors.append({"field": "mother_id_number", "message": "母亲身份号码的性别码应为偶数"})
    if father is not None and int(father[16]) % 2 == 0:
        errors.append({"field": "father_id_number", "message": "父亲身份号码的性别码应为奇数"})
    parents = [state.residents.get(mother)] + ([state.residents.get(father)] if father else [])
    household = next((p for p in parents if p is not None), None)
    if household is None:
        errors.append({"field": "mother_id_number", "message": "父母至少一方须为本市户籍居民"})
    if errors or household is None:
        raise CityError(422, _MESSAGES[422], errors)
    registration = {
        "registration_id": state.next_id("CSDJ"),
        "status": d.REGISTRATION_STATUSES[0],
        "registered_at": now.isoformat(timespec="seconds"),
        "baby_name": form["baby_name"],
        "sex": form["sex"],
        "birth_date": born.isoformat(),
        "mother_id_number": mother,
        "hospital": form["hospital"],
        "birth_certificate_no": form["birth_certificate_no"],
        "household_address": household.address,
    }
    if father is not None:
        registration["father_id_number"] = father
    state.registrations[registration["registration_id"]] = registration
    location = f"/birth/registrations/{registration['registration_id']}"
    return JSONResponse(registration, status_code=201, headers={"Location": location})


async def get_birth_registration(request: Request) -> Response:
    """A birth registration by its id."""
    state = _state(request)
    registration_id = _path_id(request, "registration_id", REGISTRATION_ID_PATTERN)
    registration = state.registrations.get(registration_id)
    if registration is None:
        raise CityError(404, "未找到该出生登记")
    return JSONResponse(registration)


# -- the app ------------------------------------------------------------------------------------

SERVICE_ROUTES: tuple[tuple[str, Callable[[Request], Any], str], ...] = (
    ("/bdc/records", list_estate_records, "GET"),
    ("/bdc/records/{record_id}", get_estate_record, "GET"),
    ("/gjj/accounts/{id_number}", get_fund_account, "GET"),
    ("/gjj/accounts/{id_number}/deposits", list_fund_deposits, "GET"),
    ("/shebao/contributions", list_contributions, "GET"),
    ("/jzz/applications", create_residence_permit_application, "POST"),
    ("/jzz/applications/{application_id}", get_residence_permit_application, "GET"),
    ("/birth/registrations", create_birth_registration, "POST"),
    ("/birth/registrations/{registration_id}", get_birth_registration, "GET"),
)
