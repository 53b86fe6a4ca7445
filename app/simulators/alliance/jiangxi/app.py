"""``create_jiangxi_app``: 赣服通 (Jiangxi, 360000) as the gateway's alliance connector meets it.

=======  ===============================  =================================================
POST     /gft/service/auth/token          the gateway's assertion -> a user credential (PZ)
POST     /gft/service/ybydba/add          医保异地备案: file (QQLSH makes a retry the same)
POST     /gft/service/ybydba/query        one filing, by BABH or by QQLSH
POST     /gft/service/ybydba/cancel       撤销 a filing (01 有效 -> 02 已撤销)
POST     /gft/service/sbjf/query          the caller's social-insurance contributions
POST     /gft/service/gjj/account         the caller's provident-fund account
POST     /gft/service/gjj/transfer/add    公积金转移 to Hunan (QQLSH makes a retry the same)
POST     /gft/service/gjj/transfer/query  one transfer, by ZYBH or by QQLSH
GET      /openapi.yaml, .json             its OpenAPI document
POST     /_sim/provider-state             ``{"state": ..., "params": {...}}``
POST     /_sim/reset                      back to the seeded state (faults of its own off)
POST     /_sim/commit-then-hang           the next write is applied, its answer never comes
POST     /_sim/hostile-answer             ``{"mode": "xxe" | "billion-laughs" | null}``
=======  ===============================  =================================================

The protocol is 赣服通's own: XML request and answer bodies (application/xml; charset=UTF-8),
``<Request><Head/><Body>..</Body></Request>`` in, ``<Response><Head><RetCode/><RetMsg/></Head>
<Body/></Response>`` out, upper-case pinyin-initial element names, dates yyyyMMdd, times
yyyyMMddHHmmss, its own code tables (``data``). A request it reads is answered HTTP 200 with its
outcome in RetCode: 0000 success, 1001 a bad parameter, 2001 not found, 2002 a duplicate or a state
that does not allow it, 4001 a missing or invalid credential, 4002 a missing or invalid gateway
assertion (token endpoint), 4003 another person's data. A request it does not read has an HTTP
4xx: 400 with 1002 (not well-formed, not a <Request>) or 1003 (a DTD or entity declaration: never
expanded), 413 (9413); other HTTP errors and injected faults are "9" + the status.

Every business operation needs the credential the token endpoint issued, in ``X-GFT-Credential``;
its ID number is the only person the call may touch. Given the gateway's keys (``gateway_jwks``),
the token endpoint requires the gateway's assertion (``X-XYB-Assertion``, audience
``360000/alliance``) and binds the credential to its ``id_number`` claim. Without keys (contract
replay, which has no gateway) the endpoint takes ``ZJHM`` from the request, and a replay credential
``gft-contract.<ID number>`` is accepted too: with no gateway anyone may get a credential for
anyone, so the fixed form gives away nothing, and it lets a contract's interactions (which cannot
carry a value from one answer into the next request) present one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.divisions import divisions
from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.alliance import partner_app
from app.simulators.alliance.common import (
    CredentialRefused,
    check_user_credential,
    mint_user_credential,
)
from app.simulators.alliance.jiangxi.data import (
    ACCOUNT_SEALED,
    ACCOUNT_STATUSES,
    ACCOUNT_TRANSFERRING,
    FILING_CANCELLED,
    FILING_KINDS,
    FILING_STATUSES,
    FILING_VALID,
    INSURANCE_TYPES,
    MEDICAL_TYPES,
    PARTNER_CODE,
    PAYMENT_STATUSES,
    RATES,
    TEMPORARY,
    TRANSFER_ACCEPTED,
    TRANSFER_PROCESSING,
    TRANSFER_STATUSES,
    Insured,
    contributions,
    money,
    seeded_people,
    ym,
    ymd,
)
from app.simulators.alliance.jiangxi.xmlio import (
    HOSTILE_MODES,
    Hostile,
    ListOf,
    Unreadable,
    XmlRequest,
    hostile_response,
    parse_request,
    xml_response,
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

OK = "0000"
BAD_PARAMETER = "1001"
NOT_FOUND = "2001"
DUPLICATE = "2002"
BAD_CREDENTIAL = "4001"
BAD_ASSERTION = "4002"
FORBIDDEN = "4003"
CREDENTIAL_HEADER = "X-GFT-Credential"
# The audience of the gateway's assertions for 赣服通: its service key (partner code/alliance).
DEFAULT_AUDIENCE = f"{PARTNER_CODE}/alliance"
# Accepted only by a simulator without the gateway's keys (contract replay): see the module doc.
CONTRACT_CREDENTIAL_PREFIX = "gft-contract."
SERVICE_PREFIX = "/gft/service/"
MAX_TEXT = 100
MAX_PAGE_SIZE = 200
_SERIAL = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_YMD = re.compile(r"[0-9]{8}")
_YM = re.compile(r"[0-9]{6}")
_DIVISION = re.compile(r"[1-8][0-9]{5}")
_HTTP_MESSAGES = {
    400: "请求报文无法解析",
    404: "服务不存在",
    405: "不支持的请求方法",
    413: "请求报文过大",
    500: "系统内部错误",
    503: "系统繁忙，请稍后再试",
}
_CREDENTIAL_REASONS = {
    "no credential": f"缺少凭证（{CREDENTIAL_HEADER}）",
    "not a credential of this partner": "非赣服通签发的凭证",
    "credential altered": "凭证校验失败",
    "credential expired": "凭证已过期",
}


def openapi_document() -> str:
    """赣服通's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return partner_app.openapi_document("app.simulators.alliance.jiangxi")


def http_error(status: int, message: str | None = None) -> Response:
    """An HTTP error in 赣服通's envelope: RetCode "9" + the status."""
    return xml_response(
        f"9{status:03d}", message or _HTTP_MESSAGES.get(status, "服务异常"), None, status
    )


class Refused(Exception):
    """A request 赣服通 read and refused: HTTP 200 with a RetCode."""

    def __init__(self, ret_code: str, message: str) -> None:
        super().__init__(message)
        self.ret_code = ret_code
        self.message = message


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filing:
    """One 医保异地备案."""

    number: str  # BABH
    request_no: str  # QQLSH
    id_number: str
    name: str
    insurance: str  # XZLX
    kind: str  # BALX
    place: str  # JYDQH: where care is sought
    start: date
    end: date | None
    phone: str
    accepted_at: datetime
    status: str = FILING_VALID
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """What a retry with the same QQLSH must repeat."""
        return (
            self.id_number,
            self.insurance,
            self.kind,
            self.place,
            self.start,
            self.end,
            self.phone,
        )

    def as_body(self) -> dict[str, object]:
        place = divisions().get(self.place)
        return {
            "BABH": self.number,
            "QQLSH": self.request_no,
            "ZJHM": self.id_number,
            "XM": self.name,
            "XZLX": self.insurance,
            "XZMC": INSURANCE_TYPES[self.insurance],
            "BALX": self.kind,
            "BALXMC": FILING_KINDS[self.kind],
            "CBDQH": PARTNER_CODE,
            "JYDQH": self.place,
            "JYDMC": place.name if place is not None else None,
            "KSRQ": ymd(self.start),
            "ZZRQ": ymd(self.end) if self.end else None,
            "LXDH": self.phone,
            "BAZT": self.status,
            "BAZTMC": FILING_STATUSES[self.status],
            "SLSJ": _timestamp(self.accepted_at),
            "CXSJ": _timestamp(self.cancelled_at) if self.cancelled_at else None,
            "CXYY": self.cancel_reason,
        }


@dataclass(frozen=True, slots=True)
class Transfer:
    """One 公积金转移 (from a Jiangxi centre to a Hunan one)."""

    number: str  # ZYBH
    request_no: str  # QQLSH
    id_number: str
    name: str
    account: str  # GRZH
    from_centre: str
    to_city: str  # ZRCSDM
    to_centre: str
    phone: str
    amount: Decimal
    applied_at: datetime
    status: str = TRANSFER_ACCEPTED

    def fingerprint(self) -> tuple[object, ...]:
        return (self.id_number, self.account, self.to_city, self.to_centre, self.phone)

    @property
    def active(self) -> bool:
        return self.status in (TRANSFER_ACCEPTED, TRANSFER_PROCESSING)

    def as_body(self) -> dict[str, object]:
        return {
            "ZYBH": self.number,
            "QQLSH": self.request_no,
            "ZJHM": self.id_number,
            "XM": self.name,
            "GRZH": self.account,
            "ZCZXMC": self.from_centre,
            "ZRCSDM": self.to_city,
            "ZRZXMC": self.to_centre,
            "ZYJE": money(self.amount),
            "LXDH": self.phone,
            "ZYZT": self.status,
            "ZYZTMC": TRANSFER_STATUSES[self.status],
            "SQSJ": _timestamp(self.applied_at),
        }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


class JiangxiState:
    """What one simulator instance holds: the seeded people plus what requests changed."""

    def __init__(self, seed: int, clock: Clock, *, replay_credentials: bool) -> None:
        self.seed = seed
        self.clock = clock
        self.replay_credentials = replay_credentials
        self.people: dict[str, Insured] = {}
        self.filings: dict[str, Filing] = {}
        self.filing_requests: dict[str, str] = {}  # QQLSH -> BABH
        self.transfers: dict[str, Transfer] = {}
        self.transfer_requests: dict[str, str] = {}  # QQLSH -> ZYBH
        self.commit_then_hang = False
        self.hostile: Hostile | None = None
        self._serials = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Back to the seeded people, no filings or transfers, its own faults off."""
        self.people = dict(seeded_people(self.seed))
        self.filings = {}
        self.filing_requests = {}
        self.transfers = {}
        self.transfer_requests = {}
        self.commit_then_hang = False
        self.hostile = None
        self._serials = itertools.count(1)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().date()

    def next_number(self, prefix: str) -> str:
        """``GFTBA20231120000001``: a prefix, today, a serial (deterministic after a reset)."""
        return f"{prefix}{ymd(self.today())}{next(self._serials):06d}"

    def put_filing(self, filing: Filing) -> None:
        self.filings[filing.number] = filing
        self.filing_requests[filing.request_no] = filing.number

    def put_transfer(self, transfer: Transfer) -> None:
        self.transfers[transfer.number] = transfer
        self.transfer_requests[transfer.request_no] = transfer.number

    def active_transfer(self, account: str) -> Transfer | None:
        for transfer in self.transfers.values():
            if transfer.account == account and transfer.active:
                return transfer
        return None

    def account_body(self, person: Insured) -> dict[str, object]:
        """The provident-fund account as 赣服通 shows it (an active transfer moves the balance)."""
        moving = self.active_transfer(person.account)
        balance = person.balance
        status = ACCOUNT_TRANSFERRING if moving else ACCOUNT_SEALED
        return {
            "GRZH": person.account,
            "ZJHM": person.id_number,
            "XM": person.name,
            "DWMC": person.employer,
            "GJJZX": person.fund_centre,
            "KHRQ": ymd(person.since.replace(day=15)),
            "ZHZT": status,
            "ZHZTMC": ACCOUNT_STATUSES[status],
            "JCJS": money(Decimal(person.base)),
            "DWJCBL": str(person.fund_rate),
            "GRJCBL": str(person.fund_rate),
            "YJCE": money(person.monthly_deposit),
            "ZHYE": money(balance),
            "KYYE": money(Decimal(0) if moving else balance),
            "ZYZJE": money(moving.amount if moving else Decimal(0)),
            "ZHJCRQ": ymd(person.last_deposit),
        }


def _state(request: Request) -> JiangxiState:
    state: JiangxiState = request.app.state.jiangxi
    return state


# -- the gateway's assertion and the user's credential ------------------------------------------


def _checked_id(value: str | None, name: str) -> str:
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    reasons = validate_resident_id(value)
    if reasons:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的居民身份证号码：{'；'.join(reasons)}")
    return normalise_resident_id(value)


def _caller(request: Request, state: JiangxiState) -> str:
    """The ID number the presented credential is bound to (4001 when there is none good)."""
    presented = request.headers.get(CREDENTIAL_HEADER)
    if state.replay_credentials and presented and presented.startswith(CONTRACT_CREDENTIAL_PREFIX):
        id_number = presented.removeprefix(CONTRACT_CREDENTIAL_PREFIX)
        if validate_resident_id(id_number):
            raise Refused(BAD_CREDENTIAL, "凭证无效：回放凭证的身份证号码无效")
        return normalise_resident_id(id_number)
    try:
        return check_user_credential(
            PARTNER_CODE, presented, now=state.now().timestamp(), seed=state.seed
        )
    except CredentialRefused as refused:
        reason = _CREDENTIAL_REASONS.get(str(refused), "凭证无效")
        raise Refused(BAD_CREDENTIAL, f"凭证无效：{reason}") from None


def _same_person(caller: str, given: str | None, name: str = "ZJHM") -> None:
    """A body naming someone else is refused: the credential's person is the only one."""
    if given is not None and normalise_resident_id(given) != caller:
        raise Refused(FORBIDDEN, f"无权办理他人业务：{name}与凭证所属人员不一致")


async def _read(request: Request) -> XmlRequest:
    return parse_request(await request.body())


# -- parameters --------------------------------------------------------------------------------


def _optional(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if len(value) > MAX_TEXT:
        raise Refused(BAD_PARAMETER, f"参数{name}不能超过{MAX_TEXT}个字符")
    return value


def _required(fields: Mapping[str, str], name: str) -> str:
    value = _optional(fields, name)
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    return value


def _coded(fields: Mapping[str, str], name: str, table: Mapping[str, str]) -> str:
    value = _required(fields, name)
    if value not in table:
        listed = "、".join(f"{code}（{label}）" for code, label in table.items())
        raise Refused(BAD_PARAMETER, f"参数{name}应为{listed}之一")
    return value


def _date(value: str, name: str) -> date:
    if not _YMD.fullmatch(value):
        raise Refused(BAD_PARAMETER, f"参数{name}应为yyyyMMdd格式的日期")
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的日期") from None


def _month(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    if not _YM.fullmatch(value):
        raise Refused(BAD_PARAMETER, f"参数{name}应为yyyyMM格式的年月")
    try:
        return datetime.strptime(value + "01", "%Y%m%d").date()
    except ValueError:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的年月") from None


def _serial(fields: Mapping[str, str]) -> str:
    value = _required(fields, "QQLSH")
    if not _SERIAL.fullmatch(value):
        raise Refused(BAD_PARAMETER, "参数QQLSH应为1至32位字母、数字、下划线或连字符")
    return value


def _phone(fields: Mapping[str, str]) -> str:
    value = _required(fields, "LXDH")
    if not _PHONE.fullmatch(value):
        raise Refused(BAD_PARAMETER, "参数LXDH应为11位手机号码")
    return value


def _positive(fields: Mapping[str, str], name: str, default: int, largest: int) -> int:
    value = _optional(fields, name)
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= largest:
        raise Refused(BAD_PARAMETER, f"参数{name}应为1至{largest}的整数")
    return int(value)


def _insured(state: JiangxiState, caller: str) -> Insured:
    person = state.people.get(caller)
    if person is None:
        raise Refused(NOT_FOUND, "未查询到该人员在江西省的参保信息")
    return person


def _ok(body: Mapping[str, object], message: str = "成功") -> Response:
    return xml_response(OK, message, body)


class NeverAnswer(Response):
    """No answer at all: the connection stays open until the client gives up."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass


def _written(state: JiangxiState, answer: Response) -> Response:
    """The answer of a write that was applied, unless "commit, then hang" is armed (once)."""
    if state.commit_then_hang:
        state.commit_then_hang = False
        return NeverAnswer()
    return answer


# -- operations --------------------------------------------------------------------------------


async def issue_credential(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    assertions: GatewayAssertions | None = request.app.state.assertion
    if assertions is not None:
        try:
            claims = assertions.verify(request.headers.get(ASSERTION_HEADER))
        except AssertionRefused as refused:
            raise Refused(BAD_ASSERTION, refused.reason) from None
        claimed = claims.get("id_number")
        if not isinstance(claimed, str) or validate_resident_id(claimed):
            raise Refused(BAD_ASSERTION, "网关断言未携带有效的用户身份证号码（id_number）")
        id_number = normalise_resident_id(claimed)
        _same_person(id_number, _optional(fields, "ZJHM"))
    else:
        id_number = _checked_id(_optional(fields, "ZJHM"), "ZJHM")
    credential, expires = mint_user_credential(
        PARTNER_CODE, id_number, now=state.now().timestamp(), seed=state.seed
    )
    expiry = datetime.fromtimestamp(expires, SHANGHAI)
    lifetime = expires - int(state.now().timestamp())
    return _ok(
        {"PZ": credential, "PZLX": "GFT-USER", "YXSC": str(lifetime), "DQSJ": _timestamp(expiry)}
    )


def _filing_request(state: JiangxiState, caller: str, fields: Mapping[str, str]) -> Filing:
    """The filing a create request asks for (numbered later), every parameter checked."""
    _same_person(caller, _optional(fields, "ZJHM"))
    request_no = _serial(fields)
    insurance = _coded(fields, "XZLX", {t: INSURANCE_TYPES[t] for t in MEDICAL_TYPES})
    kind = _coded(fields, "BALX", FILING_KINDS)
    place = _required(fields, "JYDQH")
    if not _DIVISION.fullmatch(place):
        raise Refused(BAD_PARAMETER, "参数JYDQH应为6位行政区划代码")
    if place.startswith(PARTNER_CODE[:2]):
        raise Refused(BAD_PARAMETER, "就医地不能在参保地（江西省）")
    start = _date(_required(fields, "KSRQ"), "KSRQ")
    end_text = _optional(fields, "ZZRQ")
    end = _date(end_text, "ZZRQ") if end_text else None
    if end is None and kind == TEMPORARY:
        raise Refused(BAD_PARAMETER, "临时外出就医备案须填写终止日期ZZRQ")
    if end is not None and end < start:
        raise Refused(BAD_PARAMETER, "终止日期ZZRQ早于开始日期KSRQ")
    phone = _phone(fields)
    person = _insured(state, caller)
    return Filing(
        number="",
        request_no=request_no,
        id_number=caller,
        name=person.name,
        insurance=insurance,
        kind=kind,
        place=place,
        start=start,
        end=end,
        phone=phone,
        accepted_at=state.now(),
    )


async def add_filing(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    wanted = _filing_request(state, caller, fields)
    known = state.filing_requests.get(wanted.request_no)
    if known is not None:
        # The partner's idempotency: the same serial with the same request is the same filing.
        filing = state.filings[known]
        if filing.fingerprint() != wanted.fingerprint():
            raise Refused(DUPLICATE, "请求流水号QQLSH已使用，且请求内容不一致")
        return _written(state, _ok(filing.as_body(), "备案已受理（重复请求）"))
    filing = replace(wanted, number=state.next_number("GFTBA"))
    state.put_filing(filing)
    return _written(state, _ok(filing.as_body(), "备案成功"))


def _find_filing(state: JiangxiState, caller: str, fields: Mapping[str, str]) -> Filing:
    number, request_no = _optional(fields, "BABH"), _optional(fields, "QQLSH")
    if number is None and request_no is None:
        raise Refused(BAD_PARAMETER, "须提供备案编号BABH或请求流水号QQLSH")
    if number is None:
        assert request_no is not None
        number = state.filing_requests.get(request_no)
    filing = state.filings.get(number) if number is not None else None
    if filing is None or (request_no is not None and filing.request_no != request_no):
        raise Refused(NOT_FOUND, "未查询到该备案")
    if filing.id_number != caller:
        raise Refused(FORBIDDEN, "无权查看他人的备案")
    return filing


async def query_filing(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    return _ok(_find_filing(state, caller, fields).as_body())


async def cancel_filing(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    filing = _find_filing(state, caller, {"BABH": _required(fields, "BABH")})
    if filing.status == FILING_CANCELLED:
        raise Refused(DUPLICATE, "该备案已撤销，不能重复撤销")
    reason = _optional(fields, "CXYY") or "参保人申请撤销"
    cancelled = replace(
        filing, status=FILING_CANCELLED, cancelled_at=state.now(), cancel_reason=reason
    )
    state.put_filing(cancelled)
    return _written(state, _ok(cancelled.as_body(), "撤销成功"))


async def query_contributions(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    _same_person(caller, _optional(fields, "ZJHM"))
    kind = _optional(fields, "XZLX")
    if kind is not None and kind not in RATES:
        listed = "、".join(f"{code}（{INSURANCE_TYPES[code]}）" for code in RATES)
        raise Refused(BAD_PARAMETER, f"参数XZLX应为{listed}之一")
    first, last = (
        _month(_optional(fields, "KSNY"), "KSNY"),
        _month(_optional(fields, "JSNY"), "JSNY"),
    )
    if first is not None and last is not None and last < first:
        raise Refused(BAD_PARAMETER, "结束年月JSNY早于开始年月KSNY")
    page = _positive(fields, "YM", 1, 10_000)
    size = _positive(fields, "MYTS", 50, MAX_PAGE_SIZE)
    person = _insured(state, caller)
    found = [
        c
        for c in contributions(person)
        if (kind is None or c.kind == kind)
        and (first is None or c.month >= first)
        and (last is None or c.month <= last)
    ]
    # Newest month first, then by insurance type.
    found.sort(key=lambda c: (-c.month.toordinal(), c.kind))
    shown = found[(page - 1) * size : page * size]
    return _ok(
        {
            "ZJHM": person.id_number,
            "XM": person.name,
            "CBDMC": person.city,
            "ZJLS": str(len(found)),
            "YM": str(page),
            "MYTS": str(size),
            "JFJL": ListOf(
                "JL",
                [
                    {
                        "JFNY": ym(c.month),
                        "XZLX": c.kind,
                        "XZMC": INSURANCE_TYPES[c.kind],
                        "JFJS": money(Decimal(c.base)),
                        "DWJFJE": money(c.unit),
                        "GRJFJE": money(c.person),
                        "JFZT": "01",
                        "JFZTMC": PAYMENT_STATUSES["01"],
                        "DWMC": c.employer,
                    }
                    for c in shown
                ],
            ),
        }
    )


async def fund_account(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    _same_person(caller, _optional(fields, "ZJHM"))
    person = state.people.get(caller)
    if person is None:
        raise Refused(NOT_FOUND, "未查询到该人员的公积金账户")
    return _ok(state.account_body(person))


def _hunan_city(code: str) -> str:
    division = divisions().get(code)
    if not _DIVISION.fullmatch(code) or not code.startswith("43") or division is None:
        raise Refused(BAD_PARAMETER, "参数ZRCSDM应为湖南省的行政区划代码")
    return division.name


async def add_transfer(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    _same_person(caller, _optional(fields, "ZJHM"))
    request_no = _serial(fields)
    account = _required(fields, "GRZH")
    to_city = _required(fields, "ZRCSDM")
    city_name = _hunan_city(to_city)
    to_centre = _optional(fields, "ZRZXMC") or f"{city_name}住房公积金管理中心"
    phone = _phone(fields)
    owner = next((p for p in state.people.values() if p.account == account), None)
    if owner is None:
        raise Refused(NOT_FOUND, "未查询到该公积金账户")
    if owner.id_number != caller:
        raise Refused(FORBIDDEN, "无权办理他人的公积金账户转移")
    wanted = Transfer(
        number="",
        request_no=request_no,
        id_number=caller,
        name=owner.name,
        account=account,
        from_centre=owner.fund_centre,
        to_city=to_city,
        to_centre=to_centre,
        phone=phone,
        amount=owner.balance,
        applied_at=state.now(),
    )
    known = state.transfer_requests.get(request_no)
    if known is not None:
        transfer = state.transfers[known]
        if transfer.fingerprint() != wanted.fingerprint():
            raise Refused(DUPLICATE, "请求流水号QQLSH已使用，且请求内容不一致")
        return _written(state, _ok(transfer.as_body(), "转移申请已受理（重复请求）"))
    if state.active_transfer(account) is not None:
        raise Refused(DUPLICATE, "该账户已有办理中的转移申请")
    transfer = replace(wanted, number=state.next_number("GFTZY"))
    state.put_transfer(transfer)
    return _written(state, _ok(transfer.as_body(), "转移申请已受理"))


async def query_transfer(request: Request) -> Response:
    fields = (await _read(request)).body
    state = _state(request)
    caller = _caller(request, state)
    number, request_no = _optional(fields, "ZYBH"), _optional(fields, "QQLSH")
    if number is None and request_no is None:
        raise Refused(BAD_PARAMETER, "须提供转移编号ZYBH或请求流水号QQLSH")
    if number is None:
        assert request_no is not None
        number = state.transfer_requests.get(request_no)
    transfer = state.transfers.get(number) if number is not None else None
    if transfer is None or (request_no is not None and transfer.request_no != request_no):
        raise Refused(NOT_FOUND, "未查询到该转移申请")
    if transfer.id_number != caller:
        raise Refused(FORBIDDEN, "无权查看他人的转移申请")
    return _ok(transfer.as_body())


# -- the app -----------------------------------------------------------------------------------


class HostileAnswers:
    """While a hostile mode is set, every /gft/service/ call is answered with that document
    instead of being processed (a connector must refuse it without expanding anything)."""

    def __init__(self, app: ASGIApp, *, state: JiangxiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mode = self.state.hostile
        if scope["type"] == "http" and mode and scope["path"].startswith(SERVICE_PREFIX):
            await hostile_response(mode)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return xml_response(exc.ret_code, exc.message)


async def _unreadable_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unreadable)
    return xml_response(exc.ret_code, exc.message, None, exc.status)


def create_jiangxi_app(
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
    """Simulated 赣服通, seeded with ``seed``'s people.

    ``app.state`` holds ``jiangxi`` (the data and its own faults), ``faults`` and ``received``;
    ``provider_states`` mounts ``/_sim/*``. ``gateway_jwks`` (the gateway's JWK Set, or a function
    returning the current one) makes the token endpoint need an assertion by
    ``assertion_issuer`` for ``assertion_audience``, and turns the replay credential off;
    ``clock`` decides timestamps and what has expired.
    """
    from app.simulators.alliance.jiangxi.provider_states import provider_state_routes

    assertions = gateway_assertions(gateway_jwks, assertion_issuer, assertion_audience)
    state = JiangxiState(seed, clock, replay_credentials=assertions is None)
    routes: list[BaseRoute] = [
        Route(f"{SERVICE_PREFIX}auth/token", issue_credential, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}ybydba/add", add_filing, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}ybydba/query", query_filing, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}ybydba/cancel", cancel_filing, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}sbjf/query", query_contributions, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}gjj/account", fund_account, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}gjj/transfer/add", add_transfer, methods=["POST"]),
        Route(f"{SERVICE_PREFIX}gjj/transfer/query", query_transfer, methods=["POST"]),
    ]
    return partner_app.partner_app(
        package="app.simulators.alliance.jiangxi",
        routes=routes,
        sim_routes=provider_state_routes() if provider_states else None,
        error_response=http_error,
        exception_handlers={Refused: _refused_handler, Unreadable: _unreadable_handler},
        state_name="jiangxi",
        state=state,
        assertions=assertions,
        faults=faults,
        received=received,
        inner=[Middleware(HostileAnswers, state=state)],
    )


__all__ = [
    "ASSERTION_HEADER",
    "CONTRACT_CREDENTIAL_PREFIX",
    "CREDENTIAL_HEADER",
    "DEFAULT_AUDIENCE",
    "HOSTILE_MODES",
    "Filing",
    "JiangxiState",
    "Refused",
    "Transfer",
    "create_jiangxi_app",
    "openapi_document",
]
