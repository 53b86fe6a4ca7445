"""粤省事 (Guangdong, 440000): the alliance connector's dialect of the partner's own protocol.

The protocol (its reference: the partner's OpenAPI document, ``openapi.yaml`` of the 粤省事
simulator): JSON in camelCase under ``/api/ysx/v1/``; dates ``yyyy-MM-dd``, months ``yyyy-MM``,
times ``yyyy-MM-dd HH:mm:ss`` in China time; amounts JSON numbers of yuan with two decimals; code
tables as strings with a name beside them (``"status": "1", "statusName": "有效"``); every answer
the envelope ``{"code", "msg", "data"}``. A request the partner read is answered HTTP 200 with
its outcome in ``code``: 0 success, 1001 a parameter, 2001 not found, 2002 a reused request
reference or a state that forbids it, 4001 the credential (at the token endpoint: the gateway's
assertion), 4003 another person's data. What reached no operation keeps its HTTP status, also as
``code`` (404, 405, 500, 503). The credential is ``Authorization: Bearer <accessToken>``, from
``POST /auth/token``. Writes are idempotent by ``requestNo`` (the canonical ``reference``).

=========================  ==========================================================
token                      POST /auth/token                      {idNumber}
create / find filing       POST /yb/ydba, GET /yb/ydba?requestNo=
get / cancel filing        GET /yb/ydba/{baNo}, POST /yb/ydba/{baNo}/cancel {cancelReason}
records                    GET /sb/records?idNumber=&startMonth=&endMonth= (no paging)
account                    GET /gjj/account?idNumber=
create / find transfer     POST /gjj/transfers, GET /gjj/transfers?requestNo=
get transfer               GET /gjj/transfers/{transferNo}
=========================  ==========================================================

What the canonical answers hold as null, because 粤省事 does not keep it:

- ``Transfer.completedOn`` (a transfer is only ever 处理中 there).

What is read and not carried over (the canonical vocabulary has no place for it): every
``*Name`` beside a code (derived from the code), ``idNumber`` (the caller's own: the partner
checks it against the credential), the credential's ``expireTime`` (``expiresIn`` says the
same), a contribution's ``status`` (always 已到账: checked, it says ``paidDate`` is when it
reached the fund), the account's ``depositRate`` and ``lastDepositMonth``.

Requests: nothing of FilingRequest or TransferRequest is dropped; the account number the
connector may pass to ``create_transfer_call`` is (the partner finds the account itself). The
records have no paging: ``page`` is ignored and every answer says there is no next page.

Canonical values 粤省事 cannot express (``encode_*`` raise ValueError; tests only): a
contribution of ``resident-medical``, an account ``closed``, a transfer other than
``processing`` or with a completion date, and null where the partner always answers a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from app.connectors.alliance.canonical import (
    AccountStatus,
    Contribution,
    ContributionInsurance,
    Filing,
    FilingKind,
    FilingRequest,
    FilingStatus,
    FundAccount,
    MedicalInsurance,
    Records,
    Transfer,
    TransferRequest,
    TransferStatus,
)
from app.connectors.alliance.dialects.base import (
    BadPartnerAnswer,
    Credential,
    PartnerAnswer,
    PartnerCall,
    PartnerRefused,
    RecordsPage,
    RefusalKind,
    build,
    path_segment,
)

_T = TypeVar("_T")
_K = TypeVar("_K", bound=str)  # a canonical code (a Literal)

PARTNER = "440000"
PREFIX = "/api/ysx/v1"
CHINA = ZoneInfo("Asia/Shanghai")
JSON = "application/json"

# -- code tables: canonical value -> (partner code, the name the partner writes beside it) -----
INSURANCE_TYPES: dict[MedicalInsurance, tuple[str, str]] = {
    "employee": ("1", "职工基本医疗保险"),
    "resident": ("2", "城乡居民基本医疗保险"),
}
FILING_TYPES: dict[FilingKind, tuple[str, str]] = {
    "long-term-residence": ("1", "异地长期居住"),
    "temporary-treatment": ("2", "临时外出就医"),
    "referral": ("3", "转诊转院"),
    "off-site-work": ("4", "异地工作"),
}
FILING_STATUSES: dict[FilingStatus, tuple[str, str]] = {
    "active": ("1", "有效"),
    "cancelled": ("2", "已撤销"),
}
# 粤省事's records know no 城乡居民医疗 (resident-medical): it has no code for it.
CONTRIBUTION_INSURANCES: dict[ContributionInsurance, tuple[str, str]] = {
    "pension": ("110", "企业职工基本养老保险"),
    "unemployment": ("210", "失业保险"),
    "medical": ("310", "职工基本医疗保险"),
    "injury": ("410", "工伤保险"),
}
# No 销户 (closed): an account it answers is 正常, 封存 or 转移中.
ACCOUNT_STATUSES: dict[AccountStatus, tuple[str, str]] = {
    "normal": ("1", "正常"),
    "sealed": ("2", "封存"),
    "transferring": ("3", "转移中"),
}
# A transfer there is only ever 处理中 (processing).
TRANSFER_STATUSES: dict[TransferStatus, tuple[str, str]] = {
    "processing": ("1", "处理中"),
}
PAID = "已到账"  # the one status of a contribution it answers


def _reverse(table: Mapping[_K, tuple[str, str]]) -> dict[str, _K]:
    return {code: canonical for canonical, (code, _) in table.items()}


_INSURANCE_OF = _reverse(INSURANCE_TYPES)
_KIND_OF = _reverse(FILING_TYPES)
_FILING_STATUS_OF = _reverse(FILING_STATUSES)
_CONTRIBUTION_OF = _reverse(CONTRIBUTION_INSURANCES)
_ACCOUNT_STATUS_OF = _reverse(ACCOUNT_STATUSES)
_TRANSFER_STATUS_OF = _reverse(TRANSFER_STATUSES)

# -- refusals ------------------------------------------------------------------------------------
OK = 0
REFUSALS: dict[int, RefusalKind] = {
    1001: "invalid",
    2001: "not-found",
    2002: "conflict",
    4001: "credential",
    4003: "forbidden",
    503: "unavailable",
}
# At the token endpoint no credential is presented: its 4001 refuses the gateway's assertion.
TOKEN_REFUSALS: dict[int, RefusalKind] = {**REFUSALS, 4001: "assertion"}

_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YM = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# A credential goes into a header: visible ASCII only, so a hostile answer cannot inject one.
_CREDENTIAL = re.compile(r"[\x21-\x7e]{1,4096}")
_CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal(10) ** 12  # the canonical Money's twelve integer digits

# What the partner writes where the canonical data has nothing (encode_* only: tests).
SAMPLE_ID_NUMBER = "11010519491231002X"
SAMPLE_DEPOSIT_RATE = 0.12


def _bad(message: str) -> NoReturn:
    raise BadPartnerAnswer(f"粤省事: {message}")


# -- calls -----------------------------------------------------------------------------------------


def _query(path: str, params: Mapping[str, str | None]) -> str:
    given = [
        f"{name}={quote(value, safe='')}" for name, value in params.items() if value is not None
    ]
    return f"{path}?{'&'.join(given)}" if given else path


def _get(path: str, **params: str | None) -> PartnerCall:
    return PartnerCall("GET", _query(PREFIX + path, params), headers=(("accept", JSON),))


def _post(path: str, body: Mapping[str, object]) -> PartnerCall:
    # Only the values given: the partner reads an absent optional field and a null one alike,
    # but absent is what its document shows.
    sent = {name: value for name, value in body.items() if value is not None}
    return PartnerCall(
        "POST",
        PREFIX + path,
        body=json.dumps(sent, ensure_ascii=False).encode("utf-8"),
        content_type=JSON,
        headers=(("accept", JSON),),
    )


# -- reading an answer -------------------------------------------------------------------------


def _no_constant(name: str) -> NoReturn:
    _bad(f"{name} is not a JSON number")


def _parse(answer: PartnerAnswer) -> dict[str, Any]:
    """The envelope's object, whatever its code; BadPartnerAnswer when it is not one."""
    media = answer.content_type.split(";", 1)[0].strip().lower()
    if media != JSON:
        _bad(f"the answer is {media or 'untyped'}, not JSON")
    try:
        # Amounts as Decimal: a float would round a yuan amount before we ever see it.
        body = json.loads(
            answer.body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        _bad("the answer is not JSON")
    if not isinstance(body, dict):
        _bad("the answer is not the envelope {code, msg, data}")
    code, msg = body.get("code"), body.get("msg")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(msg, str):
        _bad("the answer is not the envelope {code, msg, data}")
    if "data" not in body:
        _bad("the envelope has no data")
    return body


def _data(answer: PartnerAnswer, refusals: Mapping[int, RefusalKind] = REFUSALS) -> dict[str, Any]:
    """The envelope's data on success; PartnerRefused with its code and message otherwise."""
    body = _parse(answer)
    code: int = body["code"]
    if code != OK:
        kind = refusals.get(code) or ("unavailable" if answer.status == 503 else "failed")
        raise PartnerRefused(kind, str(code), body["msg"])
    if answer.status != 200:
        _bad(f"HTTP {answer.status} with code 0")
    data = body["data"]
    if not isinstance(data, dict):
        _bad("data is not an object")
    return data


def _field(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        _bad(f"{name} is missing")
    return obj[name]


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = _field(obj, name)
    if not isinstance(value, str):
        _bad(f"{name} is not text")
    return value


def _optional(
    obj: Mapping[str, Any], name: str, read: Callable[[Mapping[str, Any], str], _T]
) -> _T | None:
    return None if _field(obj, name) is None else read(obj, name)


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = _field(obj, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _bad(f"{name} is not a count")
    return value


def _date(obj: Mapping[str, Any], name: str) -> date:
    value = _text(obj, name)
    # Checked first: date.fromisoformat also takes 20231201 and other ISO forms.
    if not _YMD.fullmatch(value):
        _bad(f"{name} is not yyyy-MM-dd")
    try:
        return date.fromisoformat(value)
    except ValueError:
        _bad(f"{name} is not a date")


def _month(obj: Mapping[str, Any], name: str) -> str:
    value = _text(obj, name)
    if not _YM.fullmatch(value):
        _bad(f"{name} is not yyyy-MM")
    return value


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    value = _text(obj, name)
    if not _TIME.fullmatch(value):
        _bad(f"{name} is not yyyy-MM-dd HH:mm:ss")
    try:
        naive = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        _bad(f"{name} is not a time")
    return naive.replace(tzinfo=CHINA)  # the partner's times are China time


def _money(obj: Mapping[str, Any], name: str) -> str:
    """A yuan amount (a JSON number, parsed as Decimal) as canonical Money, exactly."""
    value = _field(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        _bad(f"{name} is not an amount")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or amount >= _MONEY_LIMIT:
        _bad(f"{name} is not an amount")
    try:
        cents = amount.quantize(_CENT)
    except InvalidOperation:
        _bad(f"{name} is not an amount")
    if cents != amount:  # more than two decimals: rounding it would change the amount
        _bad(f"{name} has more than two decimals")
    return "0.00" if cents.is_zero() else f"{cents:f}"


def _code(obj: Mapping[str, Any], name: str, table: Mapping[str, _T]) -> _T:
    value = _text(obj, name)
    if value not in table:
        _bad(f"{name} {value[:16]!r} is outside its table")
    return table[value]


def _object(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = _field(obj, name)
    if not isinstance(value, dict):
        _bad(f"{name} is not an object")
    return value


# -- the dialect ---------------------------------------------------------------------------------


class GuangdongDialect:
    """粤省事's protocol (see the module's docstring)."""

    partner = PARTNER
    # Not sent to the partner, which keeps no such thing (see the module's docstring).
    drops: Mapping[str, frozenset[str]] = MappingProxyType(
        {"filing": frozenset(), "transfer": frozenset()}
    )

    # -- outbound single sign-on ---------------------------------------------------------------
    def token_call(self, id_number: str) -> PartnerCall:
        # A 粤省事 with the gateway's keys takes the user from the assertion and checks idNumber
        # against it; one without them (a test installation) takes the user from idNumber.
        return _post("/auth/token", {"idNumber": id_number})

    def read_credential(self, answer: PartnerAnswer) -> Credential:
        data = _data(answer, TOKEN_REFUSALS)
        value = _text(data, "accessToken")
        if not _CREDENTIAL.fullmatch(value):
            _bad("accessToken is not a header value")
        if _text(data, "tokenType") != "Bearer":
            _bad("tokenType is not Bearer")
        expires_in = _int(data, "expiresIn")
        return Credential(value, expires_in)

    def credential_header(self, credential: str) -> tuple[str, str]:
        return ("authorization", f"Bearer {credential}")

    # -- medical-insurance off-site filing -----------------------------------------------------
    def create_filing_call(
        self, id_number: str, reference: str, request: FilingRequest
    ) -> PartnerCall:
        body = {
            "requestNo": reference,
            "idNumber": id_number,
            "insuranceType": INSURANCE_TYPES[request.insurance][0],
            "filingType": FILING_TYPES[request.kind][0],
            "destCode": request.destination,
            "startDate": request.startDate.isoformat(),
            "endDate": request.endDate.isoformat() if request.endDate else None,
            "contactPhone": request.phone,
            "remark": request.remark,
        }
        return _post("/yb/ydba", body)

    def find_filing_call(self, id_number: str, reference: str) -> PartnerCall:
        return _get("/yb/ydba", requestNo=reference)

    def get_filing_call(self, id_number: str, filing_id: str) -> PartnerCall:
        return _get(f"/yb/ydba/{path_segment(filing_id)}")

    def cancel_filing_call(self, id_number: str, filing_id: str, reason: str | None) -> PartnerCall:
        return _post(f"/yb/ydba/{path_segment(filing_id)}/cancel", {"cancelReason": reason})

    def read_filing(self, answer: PartnerAnswer) -> Filing:
        data = _data(answer)
        return build(
            Filing,
            id=_text(data, "baNo"),
            reference=_text(data, "requestNo"),
            partner=PARTNER,
            status=_code(data, "status", _FILING_STATUS_OF),
            name=_text(data, "name"),
            insurance=_code(data, "insuranceType", _INSURANCE_OF),
            kind=_code(data, "filingType", _KIND_OF),
            insuredCity=_text(data, "insuredCity"),
            destination=_text(data, "destCode"),
            destinationName=_text(data, "destName"),
            startDate=_date(data, "startDate"),
            endDate=_optional(data, "endDate", _date),
            phone=_text(data, "contactPhone"),
            remark=_optional(data, "remark", _text),
            filedAt=_time(data, "applyTime"),
            cancelledAt=_optional(data, "cancelTime", _time),
            cancelReason=_optional(data, "cancelReason", _text),
        )

    # -- social-insurance records --------------------------------------------------------------
    def records_call(
        self, id_number: str, from_month: str | None, to_month: str | None, page: int
    ) -> PartnerCall:
        # No paging there: every record in one answer, whatever the page.
        return _get("/sb/records", idNumber=id_number, startMonth=from_month, endMonth=to_month)

    def read_records(self, answer: PartnerAnswer) -> RecordsPage:
        data = _data(answer)
        rows = _field(data, "list")
        if not isinstance(rows, list):
            _bad("list is not an array")
        records = build(
            Records,
            partner=PARTNER,
            name=_text(data, "name"),
            insuredCity=_text(data, "insuredCity"),
            total=_int(data, "total"),
            records=[_contribution(row, index) for index, row in enumerate(rows)],
        )
        return RecordsPage(records, None)

    # -- provident fund ------------------------------------------------------------------------
    def account_call(self, id_number: str) -> PartnerCall:
        return _get("/gjj/account", idNumber=id_number)

    def read_account(self, answer: PartnerAnswer) -> FundAccount:
        data = _data(answer)
        return build(
            FundAccount,
            partner=PARTNER,
            accountNo=_text(data, "accountNo"),
            name=_text(data, "name"),
            centre=_text(data, "centerName"),
            employerName=_text(data, "employerName"),
            status=_code(data, "status", _ACCOUNT_STATUS_OF),
            balance=_money(data, "balance"),
            transferring=_money(data, "transferringAmount"),
            monthlyDeposit=_money(data, "monthlyDeposit"),
            openedOn=_date(data, "openDate"),
            lastDepositOn=_date(data, "lastDepositDate"),
            sealedOn=_date(data, "sealDate"),
        )

    def create_transfer_call(
        self,
        id_number: str,
        reference: str,
        request: TransferRequest,
        account_no: str | None = None,
    ) -> PartnerCall:
        # account_no is not asked: 粤省事 finds the caller's account from the credential.
        body = {
            "requestNo": reference,
            "idNumber": id_number,
            "inCenterCode": request.toCentre,
            "inAccountNo": request.toAccount,
            "contactPhone": request.phone,
        }
        return _post("/gjj/transfers", body)

    def find_transfer_call(self, id_number: str, reference: str) -> PartnerCall:
        return _get("/gjj/transfers", requestNo=reference)

    def get_transfer_call(self, id_number: str, transfer_id: str) -> PartnerCall:
        return _get(f"/gjj/transfers/{path_segment(transfer_id)}")

    def read_transfer(self, answer: PartnerAnswer) -> Transfer:
        data = _data(answer)
        return build(
            Transfer,
            id=_text(data, "transferNo"),
            reference=_text(data, "requestNo"),
            partner=PARTNER,
            status=_code(data, "status", _TRANSFER_STATUS_OF),
            name=_text(data, "name"),
            accountNo=_text(data, "accountNo"),
            fromCentre=_text(data, "outCenterName"),
            toCentre=_text(data, "inCenterCode"),
            toCentreName=_text(data, "inCenterName"),
            toAccount=_optional(data, "inAccountNo", _text),
            phone=_text(data, "contactPhone"),
            amount=_money(data, "amount"),
            appliedOn=_date(data, "applyDate"),
            completedOn=None,  # not kept there
        )


def _contribution(row: object, index: int) -> Contribution:
    if not isinstance(row, dict):
        _bad(f"list[{index}] is not an object")
    if _text(row, "status") != PAID:
        _bad(f"list[{index}].status is outside its table")
    return build(
        Contribution,
        month=_month(row, "month"),
        insurance=_code(row, "insuranceCode", _CONTRIBUTION_OF),
        base=_money(row, "base"),
        personal=_money(row, "personalAmount"),
        employer=_money(row, "employerAmount"),
        employerName=_text(row, "employerName"),
        paidOn=_date(row, "paidDate"),
    )


# -- the partner's own answers from canonical data, and requests read back (tests only) --------


def _expressed(value: _T | None, what: str) -> _T:
    if value is None:
        raise ValueError(f"粤省事 always answers {what}: it cannot express null")
    return value


def _coded(table: Mapping[_K, tuple[str, str]], value: _K, what: str) -> tuple[str, str]:
    if value not in table:
        raise ValueError(f"粤省事 has no code for the {what} {value!r}")
    return table[value]


def _yuan(money: str) -> float:
    # Money has at most 14 significant digits: float() of its text is the nearest double, whose
    # shortest repr (what json writes) is the same decimal. Parsed, not computed: nothing rounds.
    return float(Decimal(money))


def _china_time(moment: datetime) -> str:
    china = moment.astimezone(CHINA)
    return f"{china.date().isoformat()} {china:%H:%M:%S}"


def _answer(data: Mapping[str, object], msg: str = "成功") -> PartnerAnswer:
    body = {"code": OK, "msg": msg, "data": data}
    return PartnerAnswer(200, JSON, json.dumps(body, ensure_ascii=False).encode("utf-8"))


def encode_credential(credential: Credential) -> PartnerAnswer:
    """The token endpoint's answer granting ``credential`` (its expireTime made up)."""
    return _answer(
        {
            "accessToken": credential.value,
            "tokenType": "Bearer",
            "expiresIn": credential.expires_in,
            "expireTime": "2023-11-20 10:10:00",
        }
    )


def encode_filing(f: Filing, id_number: str = SAMPLE_ID_NUMBER) -> PartnerAnswer:
    """粤省事's answer holding the filing ``f`` (of ``id_number``)."""
    insurance = _coded(INSURANCE_TYPES, f.insurance, "insurance")
    kind = _coded(FILING_TYPES, f.kind, "filing kind")
    status = _coded(FILING_STATUSES, f.status, "filing status")
    data = {
        "baNo": f.id,
        "requestNo": f.reference,
        "idNumber": id_number,
        "name": _expressed(f.name, "name"),
        "insuranceType": insurance[0],
        "insuranceTypeName": insurance[1],
        "filingType": kind[0],
        "filingTypeName": kind[1],
        "insuredCity": _expressed(f.insuredCity, "insuredCity"),
        "destCode": _expressed(f.destination, "destCode"),
        "destName": _expressed(f.destinationName, "destName"),
        "startDate": f.startDate.isoformat(),
        "endDate": f.endDate.isoformat() if f.endDate else None,
        "contactPhone": f.phone,
        "remark": f.remark,
        "status": status[0],
        "statusName": status[1],
        "applyTime": _china_time(f.filedAt),
        "cancelTime": _china_time(f.cancelledAt) if f.cancelledAt else None,
        "cancelReason": f.cancelReason,
    }
    return _answer(data)


def _encode_contribution(c: Contribution) -> dict[str, object]:
    insurance = _coded(CONTRIBUTION_INSURANCES, c.insurance, "insurance")
    return {
        "month": c.month,
        "insuranceCode": insurance[0],
        "insuranceName": insurance[1],
        "base": _yuan(c.base),
        "personalAmount": _yuan(c.personal),
        "employerAmount": _yuan(c.employer),
        "employerName": c.employerName,
        "paidDate": _expressed(c.paidOn, "paidDate").isoformat(),
        "status": PAID,
    }


def encode_records(r: Records, id_number: str = SAMPLE_ID_NUMBER) -> PartnerAnswer:
    """粤省事's answer holding the records ``r`` (of ``id_number``)."""
    data = {
        "idNumber": id_number,
        "name": _expressed(r.name, "name"),
        "insuredCity": _expressed(r.insuredCity, "insuredCity"),
        "total": r.total,
        "list": [_encode_contribution(c) for c in r.records],
    }
    return _answer(data)


def encode_account(a: FundAccount, id_number: str = SAMPLE_ID_NUMBER) -> PartnerAnswer:
    """粤省事's answer holding the account ``a`` (of ``id_number``; its rate made up)."""
    status = _coded(ACCOUNT_STATUSES, a.status, "account status")
    last = _expressed(a.lastDepositOn, "lastDepositDate")
    data = {
        "accountNo": a.accountNo,
        "idNumber": id_number,
        "name": _expressed(a.name, "name"),
        "centerName": a.centre,
        "employerName": _expressed(a.employerName, "employerName"),
        "openDate": _expressed(a.openedOn, "openDate").isoformat(),
        "status": status[0],
        "statusName": status[1],
        "balance": _yuan(a.balance),
        "transferringAmount": _yuan(a.transferring),
        "depositRate": SAMPLE_DEPOSIT_RATE,
        "monthlyDeposit": _yuan(_expressed(a.monthlyDeposit, "monthlyDeposit")),
        "lastDepositMonth": last.isoformat()[:7],
        "lastDepositDate": last.isoformat(),
        "sealDate": _expressed(a.sealedOn, "sealDate").isoformat(),
    }
    return _answer(data)


def encode_transfer(t: Transfer, id_number: str = SAMPLE_ID_NUMBER) -> PartnerAnswer:
    """粤省事's answer holding the transfer ``t`` (of ``id_number``)."""
    status = _coded(TRANSFER_STATUSES, t.status, "transfer status")
    if t.completedOn is not None:
        raise ValueError("粤省事 keeps no completion date of a transfer")
    data = {
        "transferNo": t.id,
        "requestNo": t.reference,
        "idNumber": id_number,
        "name": _expressed(t.name, "name"),
        "accountNo": t.accountNo,
        "outCenterName": _expressed(t.fromCentre, "outCenterName"),
        "inCenterCode": t.toCentre,
        "inCenterName": _expressed(t.toCentreName, "inCenterName"),
        "inAccountNo": t.toAccount,
        "contactPhone": _expressed(t.phone, "contactPhone"),
        "amount": _yuan(t.amount),
        "status": status[0],
        "statusName": status[1],
        "applyDate": t.appliedOn.isoformat(),
    }
    return _answer(data)


def _request_body(call: PartnerCall) -> dict[str, Any]:
    body = json.loads(call.body)
    if not isinstance(body, dict):
        raise ValueError("the call's body is not a JSON object")
    return body


def _decoded(table: Mapping[_K, tuple[str, str]], code: str) -> _K:
    return next(canonical for canonical, (own, _) in table.items() if own == code)


def decode_filing_request(call: PartnerCall) -> FilingRequest:
    """The FilingRequest a create-filing call sends (its requestNo and idNumber aside)."""
    body = _request_body(call)
    end = body.get("endDate")
    return FilingRequest(
        insurance=_decoded(INSURANCE_TYPES, body["insuranceType"]),
        kind=_decoded(FILING_TYPES, body["filingType"]),
        destination=body["destCode"],
        startDate=date.fromisoformat(body["startDate"]),
        endDate=date.fromisoformat(end) if end is not None else None,
        phone=body["contactPhone"],
        remark=body.get("remark"),
    )


def decode_transfer_request(call: PartnerCall) -> TransferRequest:
    """The TransferRequest a create-transfer call sends (its requestNo and idNumber aside)."""
    body = _request_body(call)
    return TransferRequest(
        toCentre=body["inCenterCode"],
        toAccount=body.get("inAccountNo"),
        phone=body["contactPhone"],
    )


def query_of(call: PartnerCall) -> dict[str, str]:
    """A call's query parameters, decoded (tests only)."""
    _, _, query = call.path.partition("?")
    pairs = (item.partition("=") for item in query.split("&") if item)
    return {unquote(name): unquote(value) for name, _, value in pairs}
