"""``create_guangdong_app``: 粤省事 (Guangdong, 440000), the partner app, as an ASGI app.

=======  ===========================================  ==========================================
POST     /api/ysx/v1/auth/token                       the gateway obtains a user's credential
POST     /api/ysx/v1/yb/ydba                          医保异地备案: file (idempotent by requestNo)
GET      /api/ysx/v1/yb/ydba?requestNo=...            the caller's filing of a request reference
GET      /api/ysx/v1/yb/ydba/{baNo}                   one filing
POST     /api/ysx/v1/yb/ydba/{baNo}/cancel            撤销: 有效 -> 已撤销
GET      /api/ysx/v1/sb/records                       the caller's social-insurance contributions
GET      /api/ysx/v1/gjj/account                      the caller's provident-fund account
POST     /api/ysx/v1/gjj/transfers                    公积金转移 to Hunan (idempotent by requestNo)
GET      /api/ysx/v1/gjj/transfers?requestNo=...      the caller's transfer of a request reference
GET      /api/ysx/v1/gjj/transfers/{transferNo}       one transfer
GET      /openapi.yaml, .json                         its OpenAPI document
POST     /_sim/provider-state, /_sim/reset            provider states (provider_states.py)
GET/PUT  /_sim/commit-then-hang                       the next writes commit, then never answer
=======  ===========================================  ==========================================

The dialect is 粤省事's own: JSON in camelCase, dates yyyy-MM-dd (months yyyy-MM, times
yyyy-MM-dd HH:mm:ss), code tables as strings ("1" 有效 ...), and every answer the envelope
``{"code", "msg", "data"}``. A request it reads is answered HTTP 200 whatever its outcome: code 0
success; 1001 a parameter missing or invalid (a body that is not a JSON object included); 2001 not
found; 2002 a duplicate request reference with another content, or a state that does not allow
it; 4001 the credential is missing or not valid here (another partner's, altered, expired, a
湘易办 access token); 4003 the credential's user is not the one the call touches. Only what never
reached an operation keeps an HTTP status, with that status as ``code`` (404, 405, and the
injected faults such as 503).

Every business operation needs a credential of 粤省事 bound to one user (``Authorization: Bearer
<credential>``), which the gateway obtains at the token endpoint with its signed assertion
(``X-XYB-Assertion``, audience ``440000/alliance``, carrying the user's ``id_number``) when the
simulator is given the gateway's keys. Without them (contract replay, which has no gateway) the
token endpoint takes ``idNumber`` from the request body instead. The provider states can also
install the fixed test credential ``CONTRACT_CREDENTIAL`` for a named resident.

"Commit, then hang": while ``state.hang_writes`` is positive, the next write (a filing, a
cancellation, a transfer) is applied and then answered never (the handler waits for the client
to go away), so a caller sees a timeout although the partner holds the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.divisions import Division, divisions
from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.alliance import partner_app
from app.simulators.alliance.common import (
    CREDENTIAL_TTL_S,
    CredentialRefused,
    check_user_credential,
    mint_user_credential,
)
from app.simulators.alliance.guangdong.data import (
    DEPOSIT_DAY,
    PARTNER,
    Insured,
    contributions,
    fund_balance,
    monthly_deposit,
    seeded_insured,
)
from app.simulators.assertions import (
    ASSERTION_HEADER,
    AssertionRefused,
    GatewayAssertions,
    JwksSource,
    gateway_assertions,
)
from app.simulators.city.api import SHANGHAI, Clock, shanghai_now
from app.simulators.faults import Faults, Received

Params = dict[str, Any]

OK = 0
BAD_PARAMETER = 1001
NOT_FOUND = 2001
DUPLICATE = 2002  # a request reference reused with another content, or a state that forbids it
CREDENTIAL_INVALID = 4001
FORBIDDEN = 4003
PREFIX = "/api/ysx/v1"
# The audience of the gateway's assertions for 粤省事: its service key (division/connector).
DEFAULT_AUDIENCE = f"{PARTNER}/alliance"
# What the provider states install for a named resident, so a contract can present a credential
# that does not expire (a minted one lives ten minutes). Never accepted unless installed.
CONTRACT_CREDENTIAL = "ysx-contract-test-credential"

INSURANCE_TYPES = {"1": "职工基本医疗保险", "2": "城乡居民基本医疗保险"}
FILING_TYPES = {"1": "异地长期居住", "2": "临时外出就医", "3": "转诊转院", "4": "异地工作"}
FILING_STATUSES = {"1": "有效", "2": "已撤销"}
TRANSFER_STATUSES = {"1": "处理中"}
ACCOUNT_STATUSES = {"1": "正常", "2": "封存", "3": "转移中"}
TEMPORARY = "2"  # 临时外出就医: needs an end date, at most 180 days after the start
MAX_TEMPORARY_DAYS = 180
MAX_TEXT = 200
_REQUEST_NO = re.compile(r"[A-Za-z0-9_-]{1,64}")
_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YM = re.compile(r"[0-9]{4}-[0-9]{2}")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_ACCOUNT_NO = re.compile(r"[0-9]{6,32}")
_HTTP_MESSAGES = {
    404: "接口不存在",
    405: "不支持的请求方法",
    500: "系统异常",
    502: "网关错误",
    503: "系统繁忙，请稍后再试",
    504: "处理超时",
}
_REFUSALS = {
    "no credential": "缺少访问凭证",
    "not a credential of this partner": "不是粤省事签发的访问凭证",
    "credential altered": "访问凭证已被篡改",
    "credential expired": "访问凭证已过期",
}


def openapi_document() -> str:
    """粤省事's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return partner_app.openapi_document("app.simulators.alliance.guangdong")


def envelope(code: int, msg: str, data: object = None, status: int = 200) -> Response:
    """An answer in 粤省事's envelope."""
    return JSONResponse({"code": code, "msg": msg, "data": data}, status_code=status)


def http_error(status: int) -> Response:
    """What never reached an operation (and the injected faults): its status, also as code."""
    return envelope(status, _HTTP_MESSAGES.get(status, "服务异常"), None, status)


class Refused(Exception):
    """A request 粤省事 read and refused: HTTP 200 with a non-zero code."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filing:
    """医保异地备案."""

    ba_no: str
    request_no: str
    id_number: str
    name: str
    insurance_type: str
    filing_type: str
    insured_city: str
    dest_code: str
    start: date
    end: date | None
    phone: str
    remark: str | None
    applied_at: datetime
    status: str = "1"
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def content(self) -> tuple[object, ...]:
        """What a retry with the same request reference must repeat."""
        return (
            self.insurance_type,
            self.filing_type,
            self.dest_code,
            self.start,
            self.end,
            self.phone,
            self.remark,
        )

    def as_json(self) -> Params:
        return {
            "baNo": self.ba_no,
            "requestNo": self.request_no,
            "idNumber": self.id_number,
            "name": self.name,
            "insuranceType": self.insurance_type,
            "insuranceTypeName": INSURANCE_TYPES[self.insurance_type],
            "filingType": self.filing_type,
            "filingTypeName": FILING_TYPES[self.filing_type],
            "insuredCity": self.insured_city,
            "destCode": self.dest_code,
            "destName": place_name(divisions()[self.dest_code]),
            "startDate": self.start.isoformat(),
            "endDate": self.end.isoformat() if self.end else None,
            "contactPhone": self.phone,
            "remark": self.remark,
            "status": self.status,
            "statusName": FILING_STATUSES[self.status],
            "applyTime": _time(self.applied_at),
            "cancelTime": _time(self.cancelled_at) if self.cancelled_at else None,
            "cancelReason": self.cancel_reason,
        }


@dataclass(frozen=True, slots=True)
class Transfer:
    """公积金转移: the whole balance, from the Guangdong centre to a Hunan one."""

    transfer_no: str
    request_no: str
    id_number: str
    name: str
    account_no: str
    out_centre: str
    in_code: str
    in_account_no: str | None
    phone: str
    amount: float
    applied_at: datetime
    status: str = "1"

    @property
    def content(self) -> tuple[object, ...]:
        return (self.in_code, self.in_account_no, self.phone)

    def as_json(self) -> Params:
        return {
            "transferNo": self.transfer_no,
            "requestNo": self.request_no,
            "idNumber": self.id_number,
            "name": self.name,
            "accountNo": self.account_no,
            "outCenterName": self.out_centre,
            "inCenterCode": self.in_code,
            "inCenterName": fund_centre_in(self.in_code),
            "inAccountNo": self.in_account_no,
            "contactPhone": self.phone,
            "amount": self.amount,
            "status": self.status,
            "statusName": TRANSFER_STATUSES[self.status],
            "applyDate": self.applied_at.date().isoformat(),
        }


class GuangdongState:
    """What one simulator instance holds: the seeded insured plus what requests changed."""

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.insured: dict[str, Insured] = {}
        self.filings: dict[str, Filing] = {}
        self.filing_requests: dict[tuple[str, str], str] = {}
        self.transfers: dict[str, Transfer] = {}
        self.transfer_requests: dict[tuple[str, str], str] = {}
        self.credentials: dict[str, str] = {}  # installed test credentials -> ID number
        self.hang_writes = 0
        self._serial = 0
        self.reset()

    def reset(self) -> None:
        """Back to the seed: no filings, transfers, installed credentials or pending hang."""
        self.insured = seeded_insured(self.seed)
        self.filings = {}
        self.filing_requests = {}
        self.transfers = {}
        self.transfer_requests = {}
        self.credentials = {}
        self.hang_writes = 0
        self._serial = 0

    def now(self) -> datetime:
        """Now in China."""
        return self.clock().astimezone(SHANGHAI)

    def next_number(self, prefix: str) -> str:
        """A partner reference: prefix, today, and a serial (deterministic from a reset)."""
        self._serial += 1
        return f"{prefix}{self.now():%Y%m%d}{self._serial:06d}"

    def add_filing(self, filing: Filing) -> None:
        self.filings[filing.ba_no] = filing
        self.filing_requests[(filing.id_number, filing.request_no)] = filing.ba_no

    def remove_filing(self, ba_no: str) -> None:
        filing = self.filings.pop(ba_no, None)
        if filing is not None:
            self.filing_requests.pop((filing.id_number, filing.request_no), None)

    def add_transfer(self, transfer: Transfer) -> None:
        self.transfers[transfer.transfer_no] = transfer
        self.transfer_requests[(transfer.id_number, transfer.request_no)] = transfer.transfer_no

    def transfer_of(self, id_number: str) -> Transfer | None:
        """The transfer of this resident's account in progress, if any."""
        return next((t for t in self.transfers.values() if t.id_number == id_number), None)

    def commit_then_hang(self, writes: int = 1) -> None:
        """The next ``writes`` writes are applied, then never answered (0: switch it off)."""
        if isinstance(writes, bool) or not isinstance(writes, int) or writes < 0:
            raise ValueError("writes must be an integer >= 0")
        self.hang_writes = writes

    def take_hang(self) -> bool:
        """Whether the write just applied must hang (and count it)."""
        if self.hang_writes <= 0:
            return False
        self.hang_writes -= 1
        return True


def _state(request: Request) -> GuangdongState:
    state: GuangdongState = request.app.state.guangdong
    return state


def _time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def place_name(place: Division) -> str:
    """湖南省长沙市芙蓉区: the division with its parents."""
    names = [place.name]
    parent = place.parent
    while parent is not None and parent in divisions():
        above = divisions()[parent]
        names.insert(0, above.name)
        parent = above.parent
    return "".join(names)


def fund_centre_in(code: str) -> str:
    """The Hunan provident-fund centre of a division: its prefecture's (the province's own for
    430000)."""
    place = divisions()[code]
    while place.level not in ("prefecture", "province") and place.parent in divisions():
        place = divisions()[place.parent or ""]
    if place.level == "province":
        return "湖南省直单位住房公积金管理中心"
    return f"{place.name}住房公积金管理中心"


# -- the gateway's assertion and the user's credential -----------------------------------------


def _is_xyb_token(token: str) -> bool:
    """A JWT (a 湘易办 access token, say): told apart to say so in the refusal."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    return isinstance(header, dict)


def caller(request: Request) -> str:
    """The ID number the request's credential is bound to; 4001 otherwise."""
    state = _state(request)
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refused(CREDENTIAL_INVALID, "缺少访问凭证（Authorization: Bearer <凭证>）")
    installed = state.credentials.get(token)
    if installed is not None:
        return installed
    if _is_xyb_token(token):
        raise Refused(CREDENTIAL_INVALID, "访问凭证无效：不接受其他平台的令牌，请先换取粤省事凭证")
    try:
        return check_user_credential(PARTNER, token, now=state.now().timestamp(), seed=state.seed)
    except CredentialRefused as refused:
        reason = _REFUSALS.get(str(refused), str(refused))
        raise Refused(CREDENTIAL_INVALID, f"访问凭证无效：{reason}") from None


def only_self(user: str, value: object) -> None:
    """4003 when a call names another resident than the credential's."""
    if value is None:
        return
    if checked_id_number(value, "idNumber") != user:
        raise Refused(FORBIDDEN, "无权办理：访问凭证所属用户与idNumber不一致")


# -- parameters --------------------------------------------------------------------------------


async def read_body(request: Request) -> Params:
    """The request's JSON object (an empty body is an empty object)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refused(BAD_PARAMETER, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise Refused(BAD_PARAMETER, "请求体应为JSON对象")
    return body


def optional_text(body: Mapping[str, Any], name: str, largest: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > largest:
        raise Refused(BAD_PARAMETER, f"参数{name}应为1至{largest}个字符的字符串")
    return value.strip()


def required_text(body: Mapping[str, Any], name: str, largest: int = MAX_TEXT) -> str:
    value = optional_text(body, name, largest)
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    return value


def checked_id_number(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refused(BAD_PARAMETER, f"参数{name}应为居民身份证号码")
    reasons = validate_resident_id(value.strip())
    if reasons:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的居民身份证号码：{'；'.join(reasons)}")
    return normalise_resident_id(value.strip())


def request_no(body: Mapping[str, Any]) -> str:
    value = required_text(body, "requestNo", 64)
    if not _REQUEST_NO.fullmatch(value):
        raise Refused(BAD_PARAMETER, "参数requestNo应为1至64位字母、数字、下划线或连字符")
    return value


def choice(body: Mapping[str, Any], name: str, table: Mapping[str, str]) -> str:
    value = body.get(name)
    if value not in table:
        listed = "、".join(f"{code}（{label}）" for code, label in table.items())
        raise Refused(BAD_PARAMETER, f"参数{name}应为{listed}")
    assert isinstance(value, str)
    return value


def optional_date(body: Mapping[str, Any], name: str) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _YMD.fullmatch(value):
        raise Refused(BAD_PARAMETER, f"参数{name}应为yyyy-MM-dd格式的日期")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的日期") from None


def optional_month(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    if not _YM.fullmatch(value) or not 1 <= int(value[5:]) <= 12:
        raise Refused(BAD_PARAMETER, f"参数{name}应为yyyy-MM格式的月份")
    return date(int(value[:4]), int(value[5:]), 1)


def hunan_division(body: Mapping[str, Any], name: str) -> str:
    value = required_text(body, name, 6)
    if not value.startswith("43") or value not in divisions():
        raise Refused(BAD_PARAMETER, f"参数{name}应为湖南省的行政区划代码（43开头的6位代码）")
    return value


def phone(body: Mapping[str, Any]) -> str:
    value = required_text(body, "contactPhone", 11)
    if not _PHONE.fullmatch(value):
        raise Refused(BAD_PARAMETER, "参数contactPhone应为11位手机号码")
    return value


async def _hang(request: Request) -> Response:
    """Never answer: wait until the client gives up (the write is already applied)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return http_error(504)


# -- operations --------------------------------------------------------------------------------


async def token(request: Request) -> Response:
    """A credential of 粤省事 for one user, for the gateway (outbound single sign-on)."""
    state = _state(request)
    body = await read_body(request)
    assertions: GatewayAssertions | None = request.app.state.assertion
    if assertions is not None:
        try:
            claims = assertions.verify(request.headers.get(ASSERTION_HEADER))
        except AssertionRefused as refused:
            raise Refused(CREDENTIAL_INVALID, refused.reason) from None
        if not isinstance(claims.get("id_number"), str):
            raise Refused(CREDENTIAL_INVALID, "网关断言未携带用户身份（id_number）")
        user = checked_id_number(claims["id_number"], "id_number")
        only_self(user, body.get("idNumber"))
    else:
        if body.get("idNumber") is None:
            raise Refused(BAD_PARAMETER, "缺少参数idNumber")
        user = checked_id_number(body.get("idNumber"), "idNumber")
    credential, expires = mint_user_credential(
        PARTNER, user, now=state.now().timestamp(), seed=state.seed
    )
    data = {
        "accessToken": credential,
        "tokenType": "Bearer",
        "expiresIn": CREDENTIAL_TTL_S,
        "expireTime": _time(datetime.fromtimestamp(expires, SHANGHAI)),
    }
    return envelope(OK, "成功", data)


def _insured(state: GuangdongState, user: str) -> Insured:
    insured = state.insured.get(user)
    if insured is None:
        raise Refused(NOT_FOUND, "未查询到您在广东省的参保信息")
    return insured


async def create_filing(request: Request) -> Response:
    state = _state(request)
    body = await read_body(request)
    user = caller(request)
    only_self(user, body.get("idNumber"))
    reference = request_no(body)
    insurance_type = choice(body, "insuranceType", INSURANCE_TYPES)
    filing_type = choice(body, "filingType", FILING_TYPES)
    dest = hunan_division(body, "destCode")
    start = optional_date(body, "startDate")
    if start is None:
        raise Refused(BAD_PARAMETER, "缺少参数startDate")
    end = optional_date(body, "endDate")
    if end is not None and end < start:
        raise Refused(BAD_PARAMETER, "结束日期endDate不能早于开始日期startDate")
    if filing_type == TEMPORARY:
        if end is None:
            raise Refused(BAD_PARAMETER, "临时外出就医备案须填写结束日期endDate")
        if (end - start).days > MAX_TEMPORARY_DAYS:
            raise Refused(BAD_PARAMETER, f"临时外出就医备案有效期不能超过{MAX_TEMPORARY_DAYS}天")
    contact = phone(body)
    remark = optional_text(body, "remark")
    content = (insurance_type, filing_type, dest, start, end, contact, remark)
    known = state.filing_requests.get((user, reference))
    if known is not None:
        filing = state.filings[known]
        if filing.content != content:
            raise Refused(DUPLICATE, "请求流水号requestNo已使用，且请求内容与原请求不一致")
        return envelope(OK, "成功", filing.as_json())  # a retry: the same filing
    insured = _insured(state, user)
    filing = Filing(
        ba_no=state.next_number("YDBA"),
        request_no=reference,
        id_number=user,
        name=insured.name,
        insurance_type=insurance_type,
        filing_type=filing_type,
        insured_city=insured.city,
        dest_code=dest,
        start=start,
        end=end,
        phone=contact,
        remark=remark,
        applied_at=state.now(),
    )
    state.add_filing(filing)
    if state.take_hang():
        return await _hang(request)
    return envelope(OK, "备案成功", filing.as_json())


def _own_filing(state: GuangdongState, user: str, ba_no: str) -> Filing:
    filing = state.filings.get(ba_no)
    if filing is None:
        raise Refused(NOT_FOUND, "未查询到该备案")
    if filing.id_number != user:
        raise Refused(FORBIDDEN, "无权查看或办理他人的备案")
    return filing


async def get_filing(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    filing = _own_filing(state, user, request.path_params["baNo"])
    return envelope(OK, "成功", filing.as_json())


async def find_filing(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    reference = request_no(dict(request.query_params))
    ba_no = state.filing_requests.get((user, reference))
    if ba_no is None:
        raise Refused(NOT_FOUND, "未查询到该请求流水号的备案")
    return envelope(OK, "成功", state.filings[ba_no].as_json())


async def cancel_filing(request: Request) -> Response:
    state = _state(request)
    body = await read_body(request)
    user = caller(request)
    filing = _own_filing(state, user, request.path_params["baNo"])
    reason = optional_text(body, "cancelReason") or "本人申请撤销"
    if filing.status != "1":
        raise Refused(DUPLICATE, "该备案已撤销，不能重复撤销")
    cancelled = replace(filing, status="2", cancelled_at=state.now(), cancel_reason=reason)
    state.add_filing(cancelled)
    if state.take_hang():
        return await _hang(request)
    return envelope(OK, "撤销成功", cancelled.as_json())


async def social_insurance_records(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    query = request.query_params
    only_self(user, query.get("idNumber"))
    first = optional_month(query.get("startMonth"), "startMonth")
    last = optional_month(query.get("endMonth"), "endMonth")
    if first is not None and last is not None and last < first:
        raise Refused(BAD_PARAMETER, "结束月份endMonth不能早于开始月份startMonth")
    insured = _insured(state, user)
    found = [
        {
            "month": f"{c.month:%Y-%m}",
            "insuranceCode": c.code,
            "insuranceName": c.insurance,
            "base": c.base,
            "personalAmount": c.personal,
            "employerAmount": c.employer,
            "employerName": insured.employer,
            "paidDate": c.month.replace(day=DEPOSIT_DAY).isoformat(),
            "status": "已到账",
        }
        for c in contributions(insured)
        if (first is None or c.month >= first) and (last is None or c.month <= last)
    ]
    data = {
        "idNumber": insured.id_number,
        "name": insured.name,
        "insuredCity": insured.city,
        "total": len(found),
        "list": found,
    }
    return envelope(OK, "成功", data)


def _account(state: GuangdongState, user: str) -> Insured:
    insured = _insured(state, user)
    if insured.fund is None:
        raise Refused(NOT_FOUND, "未查询到您在广东省的住房公积金账户")
    return insured


def account_json(state: GuangdongState, insured: Insured) -> Params:
    fund = insured.fund
    assert fund is not None
    transfer = state.transfer_of(insured.id_number)
    last = insured.until
    status = "3" if transfer is not None else "2"
    return {
        "accountNo": fund.account_no,
        "idNumber": insured.id_number,
        "name": insured.name,
        "centerName": insured.fund_centre,
        "employerName": insured.employer,
        "openDate": fund.opened.isoformat(),
        "status": status,
        "statusName": ACCOUNT_STATUSES[status],
        "balance": 0.0 if transfer is not None else fund_balance(insured),
        "transferringAmount": transfer.amount if transfer is not None else 0.0,
        "depositRate": fund.rate,
        "monthlyDeposit": monthly_deposit(insured, last.year),
        "lastDepositMonth": f"{last:%Y-%m}",
        "lastDepositDate": last.replace(day=DEPOSIT_DAY).isoformat(),
        "sealDate": (last + timedelta(days=32)).replace(day=1).isoformat(),
    }


async def fund_account(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    only_self(user, request.query_params.get("idNumber"))
    return envelope(OK, "成功", account_json(state, _account(state, user)))


async def create_transfer(request: Request) -> Response:
    state = _state(request)
    body = await read_body(request)
    user = caller(request)
    only_self(user, body.get("idNumber"))
    reference = request_no(body)
    in_code = hunan_division(body, "inCenterCode")
    in_account = optional_text(body, "inAccountNo", 32)
    if in_account is not None and not _ACCOUNT_NO.fullmatch(in_account):
        raise Refused(BAD_PARAMETER, "参数inAccountNo应为6至32位数字")
    contact = phone(body)
    content = (in_code, in_account, contact)
    known = state.transfer_requests.get((user, reference))
    if known is not None:
        transfer = state.transfers[known]
        if transfer.content != content:
            raise Refused(DUPLICATE, "请求流水号requestNo已使用，且请求内容与原请求不一致")
        return envelope(OK, "成功", transfer.as_json())
    insured = _account(state, user)
    assert insured.fund is not None
    if state.transfer_of(user) is not None:
        raise Refused(DUPLICATE, "该账户已有转移业务正在办理")
    amount = fund_balance(insured)
    if amount <= 0:
        raise Refused(DUPLICATE, "账户余额为零，无需办理转移")
    transfer = Transfer(
        transfer_no=state.next_number("GJJZY"),
        request_no=reference,
        id_number=user,
        name=insured.name,
        account_no=insured.fund.account_no,
        out_centre=insured.fund_centre,
        in_code=in_code,
        in_account_no=in_account,
        phone=contact,
        amount=amount,
        applied_at=state.now(),
    )
    state.add_transfer(transfer)
    if state.take_hang():
        return await _hang(request)
    return envelope(OK, "转移申请已受理", transfer.as_json())


def _own_transfer(state: GuangdongState, user: str, transfer_no: str) -> Transfer:
    transfer = state.transfers.get(transfer_no)
    if transfer is None:
        raise Refused(NOT_FOUND, "未查询到该转移业务")
    if transfer.id_number != user:
        raise Refused(FORBIDDEN, "无权查看他人的转移业务")
    return transfer


async def get_transfer(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    transfer = _own_transfer(state, user, request.path_params["transferNo"])
    return envelope(OK, "成功", transfer.as_json())


async def find_transfer(request: Request) -> Response:
    state = _state(request)
    user = caller(request)
    reference = request_no(dict(request.query_params))
    transfer_no = state.transfer_requests.get((user, reference))
    if transfer_no is None:
        raise Refused(NOT_FOUND, "未查询到该请求流水号的转移业务")
    return envelope(OK, "成功", state.transfers[transfer_no].as_json())


# -- the app -----------------------------------------------------------------------------------


async def _refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return envelope(exc.code, exc.msg)


def create_guangdong_app(
    seed: int = 1,
    faults: Faults | None = None,
    received: Received | None = None,
    provider_states: bool = True,
    clock: Clock = shanghai_now,
    gateway_jwks: JwksSource | None = None,
    assertion_issuer: str | None = None,
    assertion_audience: str = DEFAULT_AUDIENCE,
) -> Starlette:
    """粤省事, seeded with ``seed``'s residents insured in Guangdong.

    ``app.state`` holds ``guangdong`` (the data, and ``commit_then_hang``), ``faults`` and
    ``received``; ``provider_states`` mounts ``/_sim/*``. ``gateway_jwks`` (the gateway's JWK Set,
    or a function returning the current one) makes the token endpoint need an assertion by
    ``assertion_issuer`` for ``assertion_audience``; ``clock`` decides what has expired.
    """
    from app.simulators.alliance.guangdong.provider_states import provider_state_routes

    assertions = gateway_assertions(gateway_jwks, assertion_issuer, assertion_audience)
    routes: list[BaseRoute] = [
        Route(f"{PREFIX}/auth/token", token, methods=["POST"]),
        Route(f"{PREFIX}/yb/ydba", create_filing, methods=["POST"]),
        Route(f"{PREFIX}/yb/ydba", find_filing, methods=["GET"]),
        Route(f"{PREFIX}/yb/ydba/{{baNo}}", get_filing, methods=["GET"]),
        Route(f"{PREFIX}/yb/ydba/{{baNo}}/cancel", cancel_filing, methods=["POST"]),
        Route(f"{PREFIX}/sb/records", social_insurance_records, methods=["GET"]),
        Route(f"{PREFIX}/gjj/account", fund_account, methods=["GET"]),
        Route(f"{PREFIX}/gjj/transfers", create_transfer, methods=["POST"]),
        Route(f"{PREFIX}/gjj/transfers", find_transfer, methods=["GET"]),
        Route(f"{PREFIX}/gjj/transfers/{{transferNo}}", get_transfer, methods=["GET"]),
    ]
    return partner_app.partner_app(
        package="app.simulators.alliance.guangdong",
        routes=routes,
        sim_routes=provider_state_routes() if provider_states else None,
        error_response=http_error,
        exception_handlers={Refused: _refused_handler},
        state_name="guangdong",
        state=GuangdongState(seed, clock),
        assertions=assertions,
        faults=faults,
        received=received,
    )
