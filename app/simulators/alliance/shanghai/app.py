"""``create_shanghai_app``: 随申办 (Shanghai, 310000), the alliance partner, as an ASGI app.

======  ==============================================  ==========================================
POST    /ssb/open/oauth/token                           the gateway's assertion -> a user credential
POST    /ssb/open/medical/remote_filings                医保异地备案: file (``request_id``)
GET     /ssb/open/medical/remote_filings                the caller's filings (``?request_id=``)
GET     /ssb/open/medical/remote_filings/{filing_id}    one filing
POST    /ssb/open/medical/remote_filings/{id}/revoke    撤销 a filing
GET     /ssb/open/social_insurance/payments             the caller's 社保缴费记录
GET     /ssb/open/housing_fund/account                  the caller's 公积金账户
POST    /ssb/open/housing_fund/transfer_outs            公积金转移 to Hunan (``request_id``)
GET     /ssb/open/housing_fund/transfer_outs            the caller's transfers (``?request_id=``)
GET     /ssb/open/housing_fund/transfer_outs/{id}       one transfer
GET     /openapi.yaml, .json                            its OpenAPI document
POST    /_sim/provider-state, /_sim/reset               provider states (provider_states.py)
POST    /_sim/commit-then-hang                          ``{"times": n}``: the next n writes hang
======  ==============================================  ==========================================

The dialect is the partner's own: JSON with snake_case names, dates as epoch milliseconds of local
midnight (Asia/Shanghai) and moments as epoch milliseconds, amounts in fen, the envelope
``{success, result, error_code, error_message}`` and a meaningful HTTP status: 400 a parameter
(SSB-4001), 401 a credential (SSB-4011 missing, 4012 invalid or foreign, 4013 expired, 4014 the
gateway's assertion), 403 another resident (SSB-4031), 404 (SSB-4041 filing, 4042 fund account,
4043 transfer), 409 (SSB-4091 a request_id reused for another request, 4092 a valid filing
already held, 4093 already revoked, 4094 the account cannot be transferred). Anything else is
``SSB-<status>0`` (SSB-4000 an unreadable body, 4040, 4050, 5000, 5030 ...), faults included.

Every business call carries ``X-SSB-Token: <credential>``, a credential the token endpoint minted
(``common.mint_user_credential``: bound to 随申办, one ID number and ten minutes). The credential's
ID number is the only resident the call may touch: an ``id_number`` naming anybody else is 403,
as is another resident's filing or transfer. A 湘易办 access token, another partner's credential,
an altered or an expired one is 401. Given the gateway's keys (``gateway_jwks``) the token
endpoint needs the gateway's signed assertion (``X-XYB-Assertion``, audience ``310000/alliance``)
and takes the user from its ``id_number`` claim; without keys (contract replay, which has no
gateway) it takes ``id_number`` from the request body.

Writes are idempotent by the client's ``request_id``: the same request again answers the same
filing or transfer (200; the first answer was 201), another request with a used ``request_id`` is
409, and ``GET ...?request_id=`` finds what a timed-out write left (reconciliation). The "commit,
then hang" fault (``/_sim/commit-then-hang`` or the provider state ``the next write commits then
hangs``) applies the next write, then never answers it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.divisions import divisions
from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.alliance import partner_app
from app.simulators.alliance.common import (
    CREDENTIAL_TTL_S,
    CredentialRefused,
    check_user_credential,
    mint_user_credential,
)
from app.simulators.alliance.shanghai.data import (
    INSURANCE_TYPE_NAMES,
    NORMAL,
    PARTNER_CODE,
    SEALED,
    TRANSFERRING,
    Account,
    Person,
    date_to_ms,
    datetime_to_ms,
    is_local_midnight,
    ms_to_date,
    payments,
    seeded_account,
    seeded_people,
)
from app.simulators.assertions import (
    ASSERTION_HEADER,
    AssertionRefused,
    GatewayAssertions,
    JwksSource,
    gateway_assertions,
)
from app.simulators.city.api import Clock, shanghai_now
from app.simulators.city.data import city_data
from app.simulators.faults import Faults, Received

Params = dict[str, Any]

TOKEN_HEADER = "X-SSB-Token"  # noqa: S105 - a header name, not a secret
# The audience of the gateway's assertions for this partner: its service key (division/slug).
DEFAULT_AUDIENCE = f"{PARTNER_CODE}/alliance"
PREFIX = "/ssb/open"

BAD_PARAMETER = "SSB-4001"
NO_CREDENTIAL = "SSB-4011"
BAD_CREDENTIAL = "SSB-4012"
EXPIRED_CREDENTIAL = "SSB-4013"
BAD_ASSERTION = "SSB-4014"
FORBIDDEN = "SSB-4031"
NO_SUCH_FILING = "SSB-4041"
NO_SUCH_ACCOUNT = "SSB-4042"
NO_SUCH_TRANSFER = "SSB-4043"
REQUEST_ID_REUSED = "SSB-4091"
FILING_HELD = "SSB-4092"
ALREADY_REVOKED = "SSB-4093"
NOT_TRANSFERABLE = "SSB-4094"

# Filings: insurance types and kinds, codes -> names.
INSURANCE_KINDS = {"EMPLOYEE": "职工基本医疗保险", "RESIDENT": "城乡居民基本医疗保险"}
FILING_TYPES = {
    "LONG_TERM_RESIDENCE": "异地长期居住",
    "TEMPORARY_MEDICAL": "临时外出就医",
    "REFERRAL": "转诊转院",
    "REMOTE_WORK": "异地工作",
}
VALID, REVOKED = "VALID", "REVOKED"
FILING_STATUSES = {VALID: "有效", REVOKED: "已撤销"}
PROCESSING, COMPLETED = "PROCESSING", "COMPLETED"
TRANSFER_STATUSES = {PROCESSING: "办理中", COMPLETED: "已完成"}

MAX_PAGE_SIZE = 200
MAX_TEXT = 200
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_HTTP_MESSAGES = {
    400: "请求体不是合法的JSON对象",
    401: "身份凭证无效",
    403: "无权访问",
    404: "接口不存在",
    405: "不支持的请求方法",
    500: "系统内部错误",
    503: "系统繁忙，请稍后再试",
}


def openapi_document() -> str:
    """随申办's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return partner_app.openapi_document("app.simulators.alliance.shanghai")


def success(result: object, status: int = 200) -> Response:
    """An answer in the partner's envelope."""
    body = {"success": True, "result": result, "error_code": None, "error_message": None}
    return JSONResponse(body, status_code=status)


def failure(status: int, code: str | None = None, message: str | None = None) -> Response:
    """An error in the partner's envelope (``SSB-<status>0`` unless a code is given)."""
    body = {
        "success": False,
        "result": None,
        "error_code": code or f"SSB-{status}0",
        "error_message": message or _HTTP_MESSAGES.get(status, "服务异常"),
    }
    response = JSONResponse(body, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = TOKEN_HEADER
    return response


class SsbError(Exception):
    """A refusal: its HTTP status, the partner's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> SsbError:
    return SsbError(400, BAD_PARAMETER, message)


# -- state -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filing:
    """A 医保异地备案."""

    filing_id: str
    request_id: str
    id_number: str
    name: str | None
    insurance_type: str
    filing_type: str
    start: date
    end: date | None
    contact_phone: str
    status: str
    created_at: int  # epoch ms
    revoked_at: int | None = None
    revoke_reason: str | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """What a retried request must repeat to get this filing back."""
        return (
            self.id_number,
            self.insurance_type,
            self.filing_type,
            self.start,
            self.end,
            self.contact_phone,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "filing_id": self.filing_id,
            "request_id": self.request_id,
            "id_number": self.id_number,
            "name": self.name,
            "insurance_type": self.insurance_type,
            "insurance_type_name": INSURANCE_KINDS[self.insurance_type],
            "filing_type": self.filing_type,
            "filing_type_name": FILING_TYPES[self.filing_type],
            "start_date": date_to_ms(self.start),
            "end_date": None if self.end is None else date_to_ms(self.end),
            "contact_phone": self.contact_phone,
            "status": self.status,
            "status_name": FILING_STATUSES[self.status],
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "revoke_reason": self.revoke_reason,
        }


@dataclass(frozen=True, slots=True)
class Transfer:
    """A 公积金转移 out of Shanghai to a Hunan centre."""

    transfer_id: str
    request_id: str
    id_number: str
    name: str
    account_no: str
    amount_fen: int
    target_division_code: str
    status: str
    created_at: int  # epoch ms
    completed_at: int | None = None

    def fingerprint(self) -> tuple[object, ...]:
        return (self.id_number, self.target_division_code)

    def as_json(self) -> dict[str, object]:
        return {
            "transfer_id": self.transfer_id,
            "request_id": self.request_id,
            "id_number": self.id_number,
            "name": self.name,
            "account_no": self.account_no,
            "amount_fen": self.amount_fen,
            "target_division_code": self.target_division_code,
            "target_center_name": target_center(self.target_division_code),
            "status": self.status,
            "status_name": TRANSFER_STATUSES[self.status],
            "created_at": self.created_at,
            "completed_at": self.completed_at,
        }


def target_center(code: str) -> str:
    """The receiving Hunan centre of a division (its prefecture's, or the province's)."""
    known = divisions()
    place = known.get(code[:4] + "00") or known.get(code) or known["430000"]
    return f"{place.name}住房公积金管理中心"


class ShanghaiState:
    """What one simulator instance holds: the seeded people and what requests changed."""

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.people: dict[str, Person] = {}
        self.accounts: dict[str, Account] = {}
        self.filings: dict[str, Filing] = {}
        self.filing_requests: dict[str, str] = {}
        self.transfers: dict[str, Transfer] = {}
        self.transfer_requests: dict[str, str] = {}
        # Fixed credentials a provider state installed (contract replay): token -> ID number.
        self.test_tokens: dict[str, str] = {}
        # How many of the next writes commit, then never answer.
        self.hang_writes = 0
        self.serial = 0
        self.reset()

    def reset(self) -> None:
        """Back to the seeded people: no filings, no transfers, no installed credentials."""
        self.people = dict(seeded_people(self.seed))
        self.accounts = {}
        self.filings = {}
        self.filing_requests = {}
        self.transfers = {}
        self.transfer_requests = {}
        self.test_tokens = {}
        self.hang_writes = 0
        self.serial = 0

    def today(self) -> date:
        return self.clock().date()

    def now_ms(self) -> int:
        return datetime_to_ms(self.clock())

    def name_of(self, id_number: str) -> str | None:
        """The resident's name as the partner knows it (a Hunan city resident otherwise)."""
        person = self.people.get(id_number)
        if person is not None:
            return person.name
        city = divisions().get(id_number[:4] + "00")
        if city is not None and city.level == "prefecture":
            resident = city_data(city.code).residents.get(id_number)
            if resident is not None:
                return resident.name
        return None

    def account(self, id_number: str) -> Account | None:
        """The person's fund account (made from their history when first asked for)."""
        account = self.accounts.get(id_number)
        if account is None:
            person = self.people.get(id_number)
            if person is None:
                return None
            account = seeded_account(person, self.seed, self.today())
            self.accounts[id_number] = account
        return account

    def new_id(self, kind: str) -> str:
        """A new filing or transfer id: the day and a serial, deterministic per seed."""
        taken = self.filings if kind == "YD" else self.transfers
        while True:
            self.serial += 1
            digest = hashlib.sha256(f"{self.seed}|{kind}|{self.serial}".encode()).digest()
            number = int.from_bytes(digest[:4], "big") % 10**8
            found = f"SSB{kind}{self.today():%Y%m%d}{number:08d}"
            if found not in taken:
                return found

    def put_filing(self, filing: Filing) -> None:
        old = self.filings.get(filing.filing_id)
        if old is not None and self.filing_requests.get(old.request_id) == old.filing_id:
            del self.filing_requests[old.request_id]
        self.filings[filing.filing_id] = filing
        self.filing_requests[filing.request_id] = filing.filing_id

    def remove_filing(self, filing_id: str) -> None:
        filing = self.filings.pop(filing_id, None)
        if filing is not None and self.filing_requests.get(filing.request_id) == filing_id:
            del self.filing_requests[filing.request_id]

    def put_transfer(self, transfer: Transfer) -> None:
        old = self.transfers.get(transfer.transfer_id)
        if old is not None and self.transfer_requests.get(old.request_id) == old.transfer_id:
            del self.transfer_requests[old.request_id]
        self.transfers[transfer.transfer_id] = transfer
        self.transfer_requests[transfer.request_id] = transfer.transfer_id


def _state(request: Request) -> ShanghaiState:
    state: ShanghaiState = request.app.state.shanghai
    return state


# -- the gateway's assertion and the user's credential ---------------------------------------


def _user(request: Request) -> str:
    """The ID number the call's credential is bound to; 401 in the partner's words otherwise."""
    state = _state(request)
    token = request.headers.get(TOKEN_HEADER)
    if not token:
        raise SsbError(401, NO_CREDENTIAL, f"缺少身份凭证（{TOKEN_HEADER}）")
    installed = state.test_tokens.get(token)
    if installed is not None:
        return installed
    if token.startswith("eyJ") and token.count(".") == 2:
        # A JWT (a 湘易办 access token, an ID token): never a 随申办 credential.
        raise SsbError(401, BAD_CREDENTIAL, "不接受其他平台签发的令牌，请使用随申办身份凭证")
    try:
        return check_user_credential(
            PARTNER_CODE, token, now=state.clock().timestamp(), seed=state.seed
        )
    except CredentialRefused as refused:
        if str(refused) == "credential expired":
            raise SsbError(401, EXPIRED_CREDENTIAL, "身份凭证已过期，请重新获取") from None
        raise SsbError(401, BAD_CREDENTIAL, f"身份凭证无效：{refused}") from None


def _id_number(value: object, name: str = "id_number") -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"缺少参数{name}")
    reasons = validate_resident_id(value)
    if reasons:
        raise _bad(f"参数{name}不是有效的居民身份证号码：{'；'.join(reasons)}")
    return normalise_resident_id(value)


def _only_self(user: str, value: object) -> None:
    """An ``id_number`` the caller gives must be their own (403 otherwise)."""
    if value is None:
        return
    if _id_number(value) != user:
        raise SsbError(403, FORBIDDEN, "无权访问他人信息：身份凭证与id_number不是同一人")


async def _body(request: Request, *, empty_ok: bool = False) -> Params:
    raw = await request.body()
    if not raw.strip() and empty_ok:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise SsbError(400, "SSB-4000", "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise SsbError(400, "SSB-4000", "请求体应为JSON对象")
    return body


# -- parameters ------------------------------------------------------------------------------


def _text(body: Params, name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(f"缺少参数{name}")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _bad(f"参数{name}应为1至{MAX_TEXT}个字符的字符串")
    return value.strip()


def _request_id(value: object) -> str:
    if value is None:
        raise _bad("缺少参数request_id（请求流水号，用于幂等）")
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise _bad("参数request_id应为1至64位字母、数字或 _ . : -")
    return value


def _code(body: Params, name: str, table: Mapping[str, str]) -> str:
    value = body.get(name)
    if value is None:
        raise _bad(f"缺少参数{name}")
    if value not in table:
        raise _bad(f"参数{name}应为{'、'.join(table)}之一")
    assert isinstance(value, str)
    return value


def _day(value: object, name: str) -> date:
    """A date as the partner writes it: epoch ms of local midnight."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"参数{name}应为毫秒时间戳（整数）")
    if not -(10**14) < value < 10**14 or not is_local_midnight(value):
        raise _bad(f"参数{name}应为北京时间零点的毫秒时间戳")
    return ms_to_date(value)


def _query_int(request: Request, name: str, default: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,15}", text):
        raise _bad(f"参数{name}应为整数")
    return int(text)


def _page(request: Request) -> tuple[int, int]:
    page = _query_int(request, "page", 1)
    size = _query_int(request, "page_size", 50)
    assert page is not None
    assert size is not None
    if page < 1:
        raise _bad("参数page应为正整数")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _bad(f"参数page_size应在1至{MAX_PAGE_SIZE}之间")
    return page, size


async def _after_write(request: Request) -> None:
    """The "commit, then hang" fault: the write is applied; its answer never comes (the
    connection is held until the client gives up)."""
    state = _state(request)
    if state.hang_writes <= 0:
        return
    state.hang_writes -= 1
    while (await request.receive())["type"] != "http.disconnect":
        pass
    raise _Hung


class _Hung(Exception):
    """The client went away while the answer was held: send nothing."""


# -- single sign-on --------------------------------------------------------------------------


async def issue_token(request: Request) -> Response:
    """A credential of 随申办 bound to one user, for the gateway."""
    state = _state(request)
    body = await _body(request, empty_ok=True)
    assertions: GatewayAssertions | None = request.app.state.assertion
    if assertions is not None:
        try:
            claims = assertions.verify(
                request.headers.get(ASSERTION_HEADER), state.clock().timestamp()
            )
        except AssertionRefused as refused:
            raise SsbError(401, BAD_ASSERTION, refused.reason) from None
        asserted = claims.get("id_number")
        if not isinstance(asserted, str) or validate_resident_id(asserted):
            raise SsbError(401, BAD_ASSERTION, "网关断言未携带有效的用户身份证号（id_number）")
        user = normalise_resident_id(asserted)
        _only_self(user, body.get("id_number"))
    else:
        user = _id_number(body.get("id_number"))
    token, expires = mint_user_credential(
        PARTNER_CODE, user, now=state.clock().timestamp(), seed=state.seed
    )
    return success(
        {
            "access_token": token,
            "token_type": TOKEN_HEADER,
            "expires_in": CREDENTIAL_TTL_S,
            "expires_at": expires * 1000,
            "id_number": user,
        }
    )


# -- 医保异地备案 ------------------------------------------------------------------------------


def _filing_of(state: ShanghaiState, user: str, filing_id: str) -> Filing:
    filing = state.filings.get(filing_id)
    if filing is None:
        raise SsbError(404, NO_SUCH_FILING, "未查询到该异地就医备案")
    if filing.id_number != user:
        raise SsbError(403, FORBIDDEN, "无权访问他人的异地就医备案")
    return filing


async def create_filing(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    body = await _body(request)
    request_id = _request_id(body.get("request_id"))
    _only_self(user, body.get("id_number"))
    insurance_type = _code(body, "insurance_type", INSURANCE_KINDS)
    filing_type = _code(body, "filing_type", FILING_TYPES)
    if body.get("start_date") is None:
        raise _bad("缺少参数start_date")
    start = _day(body["start_date"], "start_date")
    end = None if body.get("end_date") is None else _day(body["end_date"], "end_date")
    if end is not None and end < start:
        raise _bad("参数end_date早于start_date")
    phone = _text(body, "contact_phone")
    assert phone is not None
    if not _PHONE.fullmatch(phone):
        raise _bad("参数contact_phone应为11位手机号码")
    filing = Filing(
        filing_id="",
        request_id=request_id,
        id_number=user,
        name=state.name_of(user),
        insurance_type=insurance_type,
        filing_type=filing_type,
        start=start,
        end=end,
        contact_phone=phone,
        status=VALID,
        created_at=state.now_ms(),
    )
    held_id = state.filing_requests.get(request_id)
    if held_id is not None:
        held = state.filings[held_id]
        if held.fingerprint() != filing.fingerprint():
            raise SsbError(
                409, REQUEST_ID_REUSED, "request_id已用于另一笔不同的备案申请，请更换request_id"
            )
        await _after_write(request)
        return success(held.as_json())
    valid = next(
        (f for f in state.filings.values() if f.id_number == user and f.status == VALID), None
    )
    if valid is not None:
        raise SsbError(409, FILING_HELD, f"已存在有效的异地就医备案（{valid.filing_id}），请先撤销")
    filing = replace(filing, filing_id=state.new_id("YD"))
    state.put_filing(filing)
    await _after_write(request)
    return success(filing.as_json(), 201)


async def list_filings(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    request_id = request.query_params.get("request_id")
    if request_id is not None:
        _request_id(request_id)
    status = request.query_params.get("status")
    if status is not None and status not in FILING_STATUSES:
        raise _bad(f"参数status应为{'、'.join(FILING_STATUSES)}之一")
    found = [
        f
        for f in state.filings.values()
        if f.id_number == user
        and (request_id is None or f.request_id == request_id)
        and (status is None or f.status == status)
    ]
    found.sort(key=lambda f: (f.created_at, f.filing_id), reverse=True)
    return success({"total": len(found), "filings": [f.as_json() for f in found]})


async def get_filing(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    return success(_filing_of(state, user, request.path_params["filing_id"]).as_json())


async def revoke_filing(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    body = await _body(request, empty_ok=True)
    reason = _text(body, "reason", required=False) or "参保人申请撤销"
    filing = _filing_of(state, user, request.path_params["filing_id"])
    if filing.status == REVOKED:
        raise SsbError(409, ALREADY_REVOKED, "该备案已撤销，不能重复撤销")
    revoked = replace(filing, status=REVOKED, revoked_at=state.now_ms(), revoke_reason=reason)
    state.put_filing(revoked)
    await _after_write(request)
    return success(revoked.as_json())


# -- 社保缴费记录 ------------------------------------------------------------------------------


def _query_month(request: Request, name: str) -> date | None:
    value = _query_int(request, name, None)
    if value is None:
        return None
    day = _day(value, name)
    return day.replace(day=1)


async def list_payments(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    _only_self(user, request.query_params.get("id_number"))
    insurance_type = request.query_params.get("insurance_type")
    if insurance_type is not None and insurance_type not in INSURANCE_TYPE_NAMES:
        raise _bad(f"参数insurance_type应为{'、'.join(INSURANCE_TYPE_NAMES)}之一")
    start = _query_month(request, "start_month")
    end = _query_month(request, "end_month")
    if start is not None and end is not None and end < start:
        raise _bad("参数end_month早于start_month")
    page, size = _page(request)
    person = state.people.get(user)
    found = [
        p
        for p in (payments(person, state.seed) if person is not None else [])
        if (insurance_type is None or p.insurance_type == insurance_type)
        and (start is None or p.month >= start)
        and (end is None or p.month <= end)
    ]
    shown = found[(page - 1) * size : page * size]
    return success(
        {
            "id_number": user,
            "name": person.name if person is not None else state.name_of(user),
            "total": len(found),
            "page": page,
            "page_size": size,
            "records": [p.as_json() for p in shown],
        }
    )


# -- 公积金 ------------------------------------------------------------------------------------


def _account_of(state: ShanghaiState, user: str) -> Account:
    account = state.account(user)
    if account is None:
        raise SsbError(404, NO_SUCH_ACCOUNT, "未查询到该参保人在上海市的公积金账户")
    return account


async def get_account(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    _only_self(user, request.query_params.get("id_number"))
    return success(_account_of(state, user).as_json())


def _target_division(value: object) -> str:
    if value is None:
        raise _bad("缺少参数target_division_code")
    if not isinstance(value, str) or not re.fullmatch(r"43[0-9]{4}", value):
        raise _bad("参数target_division_code应为湖南省的6位行政区划代码")
    if value not in divisions():
        raise _bad(f"参数target_division_code：{value}不是湖南省的行政区划代码")
    return value


async def create_transfer(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    body = await _body(request)
    request_id = _request_id(body.get("request_id"))
    _only_self(user, body.get("id_number"))
    target = _target_division(body.get("target_division_code"))
    held_id = state.transfer_requests.get(request_id)
    if held_id is not None:
        held = state.transfers[held_id]
        if held.fingerprint() != (user, target):
            raise SsbError(
                409, REQUEST_ID_REUSED, "request_id已用于另一笔不同的转移申请，请更换request_id"
            )
        await _after_write(request)
        return success(held.as_json())
    account = _account_of(state, user)
    if account.status not in (NORMAL, SEALED):
        raise SsbError(409, NOT_TRANSFERABLE, f"公积金账户状态为{account.status}，不能办理转移")
    if account.balance_fen <= 0:
        raise SsbError(409, NOT_TRANSFERABLE, "公积金账户余额为零，无需转移")
    transfer = Transfer(
        transfer_id=state.new_id("GJ"),
        request_id=request_id,
        id_number=user,
        name=account.name,
        account_no=account.account_no,
        amount_fen=account.balance_fen,
        target_division_code=target,
        status=PROCESSING,
        created_at=state.now_ms(),
    )
    state.accounts[user] = replace(
        account, status=TRANSFERRING, balance_fen=0, transferring_fen=account.balance_fen
    )
    state.put_transfer(transfer)
    await _after_write(request)
    return success(transfer.as_json(), 201)


def _transfer_of(state: ShanghaiState, user: str, transfer_id: str) -> Transfer:
    transfer = state.transfers.get(transfer_id)
    if transfer is None:
        raise SsbError(404, NO_SUCH_TRANSFER, "未查询到该公积金转移申请")
    if transfer.id_number != user:
        raise SsbError(403, FORBIDDEN, "无权访问他人的公积金转移申请")
    return transfer


async def get_transfer(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    return success(_transfer_of(state, user, request.path_params["transfer_id"]).as_json())


async def list_transfers(request: Request) -> Response:
    state = _state(request)
    user = _user(request)
    request_id = request.query_params.get("request_id")
    if request_id is not None:
        _request_id(request_id)
    found = [
        t
        for t in state.transfers.values()
        if t.id_number == user and (request_id is None or t.request_id == request_id)
    ]
    found.sort(key=lambda t: (t.created_at, t.transfer_id), reverse=True)
    return success({"total": len(found), "transfers": [t.as_json() for t in found]})


# -- the app ---------------------------------------------------------------------------------


class _HangGuard:
    """Swallows :class:`_Hung` so a held write ends without an answer (not a 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except _Hung:
            return


async def _ssb_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SsbError)
    return failure(exc.status, exc.code, exc.message)


def create_shanghai_app(
    *,
    seed: int = 1,
    faults: Faults | None = None,
    received: Received | None = None,
    provider_states: bool = True,
    clock: Clock = shanghai_now,
    gateway_jwks: JwksSource | None = None,
    assertion_issuer: str | None = None,
    assertion_audience: str = DEFAULT_AUDIENCE,
) -> Starlette:
    """The simulated 随申办, seeded with ``seed``'s residents.

    ``app.state`` holds ``shanghai`` (the data), ``faults`` and ``received``; ``provider_states``
    mounts ``/_sim/*``. ``gateway_jwks`` (the gateway's JWK Set, or a function returning the
    current one) makes the token endpoint need an assertion by ``assertion_issuer`` for
    ``assertion_audience``; ``clock`` decides what has expired and stamps what is created.
    """
    from app.simulators.alliance.shanghai.provider_states import provider_state_routes

    filings = f"{PREFIX}/medical/remote_filings"
    transfers = f"{PREFIX}/housing_fund/transfer_outs"
    routes: list[BaseRoute] = [
        Route(f"{PREFIX}/oauth/token", issue_token, methods=["POST"]),
        Route(filings, create_filing, methods=["POST"]),
        Route(filings, list_filings, methods=["GET"]),
        Route(f"{filings}/{{filing_id}}", get_filing, methods=["GET"]),
        Route(f"{filings}/{{filing_id}}/revoke", revoke_filing, methods=["POST"]),
        Route(f"{PREFIX}/social_insurance/payments", list_payments, methods=["GET"]),
        Route(f"{PREFIX}/housing_fund/account", get_account, methods=["GET"]),
        Route(transfers, create_transfer, methods=["POST"]),
        Route(transfers, list_transfers, methods=["GET"]),
        Route(f"{transfers}/{{transfer_id}}", get_transfer, methods=["GET"]),
    ]
    return partner_app.partner_app(
        package="app.simulators.alliance.shanghai",
        routes=routes,
        sim_routes=provider_state_routes() if provider_states else None,
        error_response=failure,
        exception_handlers={SsbError: _ssb_error_handler},
        state_name="shanghai",
        state=ShanghaiState(seed, clock),
        assertions=gateway_assertions(gateway_jwks, assertion_issuer, assertion_audience),
        faults=faults,
        received=received,
        outer=[Middleware(_HangGuard)],
    )
