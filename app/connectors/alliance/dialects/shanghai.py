"""随申办 (Shanghai, 310000): the alliance dialect.

The partner's protocol (its reference is the simulator's ``openapi.yaml`` and
``contracts/alliance/shanghai.contract.yaml``):

- JSON with snake_case names under ``/ssb/open/``; every answer is the envelope
  ``{"success", "result", "error_code", "error_message"}`` with a meaningful HTTP status
  (200/201 success; 400, 401, 403, 404, 405, 409, 500, 503 a refusal with an ``SSB-xxxx`` code).
- Dates are epoch milliseconds of their local midnight in Asia/Shanghai, moments are epoch
  milliseconds, months are the epoch milliseconds of their first day; amounts are integers of
  fen (分).
- Outbound single sign-on: ``POST /ssb/open/oauth/token`` (the connector adds the gateway's
  ``X-XYB-Assertion``; the body names the user, which a partner that checks assertions only
  compares with the asserted one) answers a credential for ``X-SSB-Token``.
- Writes carry the gateway's reference as ``request_id`` (idempotent: the same request again
  answers the same filing or transfer); ``GET ...?request_id=`` finds what a timed-out write left.
  That lookup answers a list: the dialect answers its first (newest) entry, and an empty list as
  ``not-found`` with the partner's own "no such filing/transfer" code (SSB-4041 / SSB-4043).
- Social-insurance payments page (``page``, ``page_size`` up to 200): the dialect asks 200 a page.

What 随申办 does not keep, null in canonical answers:

- Filing: ``insuredCity``, ``destination``, ``destinationName``, ``remark``.
- Contribution: ``paidOn`` (it only says ``pay_status`` PAID); Records: ``insuredCity``.
- FundAccount: ``employerName``, ``sealedOn``.
- Transfer: ``fromCentre``, ``toAccount``, ``phone``; ``appliedOn`` and ``completedOn`` are the
  Shanghai dates of its ``created_at`` / ``completed_at`` moments.

What it does not take, dropped from requests: FilingRequest ``destination`` and ``remark``;
TransferRequest ``toAccount`` and ``phone``. Its code tables are narrower than the canonical
ones: contributions are only pension, medical and unemployment; transfers are only processing
and completed (``encode_*`` raises ValueError for what it cannot say).

``encode_*`` and ``decode_*_request`` (tests only) write the partner's success answers from
canonical data and read back what a call sends. Since the partner takes no destination and no
phone, ``decode_*_request`` cannot read them back: it answers the stand-ins
:data:`UNSAID_DESTINATION` and :data:`UNSAID_PHONE`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from app.connectors.alliance.canonical import (
    Contribution,
    Filing,
    FilingRequest,
    FundAccount,
    Records,
    Transfer,
    TransferRequest,
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

PARTNER = "310000"
PREFIX = "/ssb/open"
FILINGS = f"{PREFIX}/medical/remote_filings"
TRANSFERS = f"{PREFIX}/housing_fund/transfer_outs"
TOKEN_HEADER = "x-ssb-token"  # noqa: S105 - a header name, not a secret
JSON_TYPE = "application/json"
# The largest page of payments 随申办 answers.
PAGE_SIZE = 200

SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
# The moments a reader accepts: far wider than any real filing, narrow enough that no
# conversion overflows (a hostile 10**30 is refused, not an OverflowError).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)

# What decode_*_request answers for what 随申办 never receives (tests only).
UNSAID_DESTINATION = "430000"
UNSAID_PHONE = "13800000000"
# The ID number encode_* writes into answers when a test gives none (any valid one will do:
# the readers do not use it, canonical data has none).
EXAMPLE_ID_NUMBER = "11010519491231002X"

# -- code tables: the partner's code -> canonical (and the partner's names, for encode_*) ----

INSURANCE_KINDS = {"EMPLOYEE": "employee", "RESIDENT": "resident"}
INSURANCE_KIND_NAMES = {"EMPLOYEE": "职工基本医疗保险", "RESIDENT": "城乡居民基本医疗保险"}
FILING_TYPES = {
    "LONG_TERM_RESIDENCE": "long-term-residence",
    "TEMPORARY_MEDICAL": "temporary-treatment",
    "REFERRAL": "referral",
    "REMOTE_WORK": "off-site-work",
}
FILING_TYPE_NAMES = {
    "LONG_TERM_RESIDENCE": "异地长期居住",
    "TEMPORARY_MEDICAL": "临时外出就医",
    "REFERRAL": "转诊转院",
    "REMOTE_WORK": "异地工作",
}
FILING_STATUSES = {"VALID": "active", "REVOKED": "cancelled"}
FILING_STATUS_NAMES = {"VALID": "有效", "REVOKED": "已撤销"}
PAYMENT_TYPES = {"PENSION": "pension", "MEDICAL": "medical", "UNEMPLOYMENT": "unemployment"}
PAYMENT_TYPE_NAMES = {"PENSION": "养老保险", "MEDICAL": "医疗保险", "UNEMPLOYMENT": "失业保险"}
PAY_STATUSES = {"PAID": "PAID"}
ACCOUNT_STATUSES = {
    "NORMAL": "normal",
    "SEALED": "sealed",
    "TRANSFERRING": "transferring",
    "CLOSED": "closed",
}
ACCOUNT_STATUS_NAMES = {
    "NORMAL": "正常",
    "SEALED": "封存",
    "TRANSFERRING": "转移中",
    "CLOSED": "销户",
}
TRANSFER_STATUSES = {"PROCESSING": "processing", "COMPLETED": "completed"}
TRANSFER_STATUS_NAMES = {"PROCESSING": "办理中", "COMPLETED": "已完成"}
TOKEN_TYPES = {"X-SSB-Token": "X-SSB-Token"}

# The partner's refusal codes. Anything else it says is "failed" (503: "unavailable").
REFUSALS: dict[str, RefusalKind] = {
    "SSB-4000": "invalid",  # a body that is not a JSON object
    "SSB-4001": "invalid",
    "SSB-4011": "credential",  # missing
    "SSB-4012": "credential",  # invalid, altered, another platform's
    "SSB-4013": "credential",  # expired
    "SSB-4014": "assertion",
    "SSB-4031": "forbidden",
    "SSB-4040": "failed",  # no such path: the gateway's configuration, not the caller's
    "SSB-4041": "not-found",
    "SSB-4042": "not-found",
    "SSB-4043": "not-found",
    "SSB-4050": "failed",
    "SSB-4091": "conflict",  # request_id reused for another request
    "SSB-4092": "conflict",  # a valid filing is already held
    "SSB-4093": "conflict",  # already revoked
    "SSB-4094": "conflict",  # the account cannot be transferred
    "SSB-5000": "failed",
    "SSB-5030": "unavailable",
}
NO_SUCH_FILING = "SSB-4041"
NO_SUCH_TRANSFER = "SSB-4043"

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# A credential goes into a header as it is: visible ASCII only (no CR/LF smuggled in).
_HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,4096}")

M = TypeVar("M", bound=BaseModel)


# -- conversions -----------------------------------------------------------------------------


def _bad(message: str) -> NoReturn:
    raise BadPartnerAnswer(message)


def date_to_ms(day: date) -> int:
    """Epoch milliseconds of ``day``'s local midnight in Shanghai."""
    return (datetime.combine(day, time(0), SHANGHAI) - EPOCH) // ONE_MS


def moment_to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware moment (integer arithmetic: no float rounding)."""
    if moment.utcoffset() is None:
        raise ValueError("a moment must be timezone-aware")
    return (moment - EPOCH) // ONE_MS


_MIN_MS, _MAX_MS = date_to_ms(FIRST_DAY), date_to_ms(LAST_DAY + timedelta(days=1)) - 1


def ms_to_moment(ms: int) -> datetime:
    """The moment of epoch milliseconds, in Asia/Shanghai."""
    return (EPOCH + ms * ONE_MS).astimezone(SHANGHAI)


def fen_to_money(fen: int) -> str:
    """Integer fen as canonical Money ("1234.50")."""
    if fen < 0:
        raise ValueError("an amount cannot be negative")
    return f"{fen // 100}.{fen % 100:02d}"


def money_to_fen(money: str) -> int:
    """Canonical Money as integer fen (exact: the string's digits, never a float)."""
    whole, _, cents = money.partition(".")
    if not whole.isdigit() or len(cents) != 2 or not cents.isdigit():
        raise ValueError(f"not an amount: {money!r}")
    return int(whole) * 100 + int(cents)


def month_to_ms(month: str) -> int:
    """A "yyyy-MM" month as the partner writes it: its first day's epoch milliseconds."""
    found = _MONTH.fullmatch(month)
    if found is None:
        raise ValueError(f"not a month (yyyy-MM): {month!r}")
    return date_to_ms(date(int(found[1]), int(found[2]), 1))


def _reverse(table: Mapping[str, str], value: str, what: str) -> str:
    """The partner's code for a canonical value; ValueError when it has none (encode_* only)."""
    for code, canonical in table.items():
        if canonical == value:
            return code
    raise ValueError(f"随申办 has no {what} for {value!r}")


# -- reading the partner's answers -----------------------------------------------------------


class _Fields:
    """One JSON object of an answer, read field by field with its type checked: whatever is
    missing or mistyped is a BadPartnerAnswer naming the field (never a KeyError/TypeError)."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            _bad(f"{where} is not an object")
        self.data: dict[str, Any] = value
        self.where = where

    def _get(self, name: str) -> object:
        if name not in self.data:
            _bad(f"{self.where}.{name} is missing")
        return self.data[name]

    def _wrong(self, name: str, expected: str) -> NoReturn:
        _bad(f"{self.where}.{name} is not {expected}")

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            self._wrong(name, "a string")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._get(name) is None else self.text(name)

    def integer(self, name: str) -> int:
        value = self._get(name)
        # bool is an int to Python, never to the partner.
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(name, "an integer")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self._get(name) is None else self.integer(name)

    def fen(self, name: str) -> str:
        value = self.integer(name)
        if value < 0:
            self._wrong(name, "an amount (fen >= 0)")
        return fen_to_money(value)

    def moment(self, name: str) -> datetime:
        value = self.integer(name)
        if not _MIN_MS <= value <= _MAX_MS:
            self._wrong(name, f"a moment between {FIRST_DAY} and {LAST_DAY}")
        return ms_to_moment(value)

    def optional_moment(self, name: str) -> datetime | None:
        return None if self._get(name) is None else self.moment(name)

    def day(self, name: str) -> date:
        day = self.moment(name).date()
        # A date is its local midnight exactly: anything else is not the partner's way.
        if date_to_ms(day) != self.data[name]:
            self._wrong(name, "a date (epoch ms of local midnight)")
        return day

    def optional_day(self, name: str) -> date | None:
        return None if self._get(name) is None else self.day(name)

    def code(self, name: str, table: Mapping[str, str]) -> str:
        value = self.text(name)
        if value not in table:
            self._wrong(name, f"one of {', '.join(table)}")
        return table[value]

    def objects(self, name: str) -> list[_Fields]:
        value = self._get(name)
        if not isinstance(value, list):
            self._wrong(name, "a list")
        return [_Fields(item, f"{self.where}.{name}[{i}]") for i, item in enumerate(value)]


def _no_constant(name: str) -> NoReturn:
    _bad(f"the answer is not JSON ({name})")


def _json(answer: PartnerAnswer) -> object:
    media = answer.content_type.split(";", 1)[0].strip().lower()
    if media != JSON_TYPE:
        _bad(f"the answer is {media or 'untyped'}, not JSON")
    try:
        # NaN and Infinity are Python's, not JSON's: refused like any other non-JSON.
        return json.loads(answer.body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        _bad("the answer is not JSON")


def _result(answer: PartnerAnswer) -> _Fields:
    """The result of a success answer; a refusal raises PartnerRefused, anything that is not the
    partner's envelope BadPartnerAnswer."""
    envelope = _Fields(_json(answer), "envelope")
    success = envelope._get("success")
    if not isinstance(success, bool):
        _bad("envelope.success is not true or false")
    if not success:
        _refuse(answer.status, envelope)
    if answer.status not in (200, 201):
        _bad(f"a success answered with HTTP {answer.status}")
    if envelope._get("error_code") is not None or envelope._get("error_message") is not None:
        _bad("a success with an error code")
    return _Fields(envelope._get("result"), "result")


def _refuse(status: int, envelope: _Fields) -> NoReturn:
    code = envelope.text("error_code")
    message = envelope.text("error_message")
    if status < 400:
        _bad(f"a refusal ({code}) answered with HTTP {status}")
    kind = REFUSALS.get(code)
    if kind is None:
        # A code it never documented: the partner failed, or says it cannot serve now.
        kind = "unavailable" if status == 503 else "failed"
    raise PartnerRefused(kind, code, message)


def _only(result: _Fields, key: str, not_found: str, what: str) -> _Fields:
    """A ``?request_id=`` lookup's answer: its first (newest) entry, or not-found."""
    result.integer("total")
    found = result.objects(key)
    if not found:
        raise PartnerRefused("not-found", not_found, f"随申办 has no {what} with this request_id")
    return found[0]


def read_filing(answer: PartnerAnswer) -> Filing:
    result = _result(answer)
    if "filings" in result.data:
        result = _only(result, "filings", NO_SUCH_FILING, "filing")
    return _filing(result)


def _filing(f: _Fields) -> Filing:
    return build(
        Filing,
        id=f.text("filing_id"),
        reference=f.text("request_id"),
        partner=PARTNER,
        status=f.code("status", FILING_STATUSES),
        name=f.optional_text("name"),
        insurance=f.code("insurance_type", INSURANCE_KINDS),
        kind=f.code("filing_type", FILING_TYPES),
        insuredCity=None,
        destination=None,
        destinationName=None,
        startDate=f.day("start_date"),
        endDate=f.optional_day("end_date"),
        phone=f.text("contact_phone"),
        remark=None,
        filedAt=f.moment("created_at"),
        cancelledAt=f.optional_moment("revoked_at"),
        cancelReason=f.optional_text("revoke_reason"),
    )


def _contribution(p: _Fields) -> Contribution:
    p.code("pay_status", PAY_STATUSES)
    return build(
        Contribution,
        month=f"{p.day('pay_month'):%Y-%m}",
        insurance=p.code("insurance_type", PAYMENT_TYPES),
        base=p.fen("base_fen"),
        personal=p.fen("personal_amount_fen"),
        employer=p.fen("employer_amount_fen"),
        employerName=p.text("employer_name"),
        paidOn=None,
    )


def read_records(answer: PartnerAnswer) -> RecordsPage:
    result = _result(answer)
    total = result.integer("total")
    page = result.integer("page")
    size = result.integer("page_size")
    if total < 0 or page < 1 or size < 1:
        _bad("result.total, page or page_size is out of range")
    contributions = [_contribution(p) for p in result.objects("records")]
    records = build(
        Records,
        partner=PARTNER,
        name=result.optional_text("name"),
        insuredCity=None,
        total=total,
        records=contributions,
    )
    # An empty page ends it even if total promises more: the partner would be asked forever.
    more = bool(contributions) and page * size < total
    return RecordsPage(records, page + 1 if more else None)


def read_account(answer: PartnerAnswer) -> FundAccount:
    a = _result(answer)
    return build(
        FundAccount,
        partner=PARTNER,
        accountNo=a.text("account_no"),
        name=a.text("name"),
        centre=a.text("center_name"),
        employerName=None,
        status=a.code("status", ACCOUNT_STATUSES),
        balance=a.fen("balance_fen"),
        transferring=a.fen("transferring_fen"),
        monthlyDeposit=a.fen("monthly_deposit_fen"),
        openedOn=a.day("opened_date"),
        lastDepositOn=a.day("last_deposit_date"),
        sealedOn=None,
    )


def read_transfer(answer: PartnerAnswer) -> Transfer:
    result = _result(answer)
    if "transfers" in result.data:
        result = _only(result, "transfers", NO_SUCH_TRANSFER, "transfer")
    return _transfer(result)


def _transfer(t: _Fields) -> Transfer:
    completed = t.optional_moment("completed_at")
    return build(
        Transfer,
        id=t.text("transfer_id"),
        reference=t.text("request_id"),
        partner=PARTNER,
        status=t.code("status", TRANSFER_STATUSES),
        name=t.text("name"),
        accountNo=t.text("account_no"),
        fromCentre=None,
        toCentre=t.text("target_division_code"),
        toCentreName=t.text("target_center_name"),
        toAccount=None,
        phone=None,
        amount=t.fen("amount_fen"),
        appliedOn=t.moment("created_at").date(),
        completedOn=None if completed is None else completed.date(),
    )


def read_credential(answer: PartnerAnswer) -> Credential:
    token = _result(answer)
    value = token.text("access_token")
    if not _HEADER_VALUE.fullmatch(value):
        _bad("result.access_token is not a header value")
    token.code("token_type", TOKEN_TYPES)
    expires_in = token.integer("expires_in")
    if expires_in <= 0:
        _bad("result.expires_in is not a positive number of seconds")
    return Credential(value, expires_in)


# -- calls -----------------------------------------------------------------------------------


def _query(**params: str | int | None) -> str:
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urlencode(given, quote_via=quote, safe="") if given else ""


# Every call names the answer it reads (its contract's interactions name it too).
_ACCEPT = (("accept", JSON_TYPE),)


def _get(path: str) -> PartnerCall:
    return PartnerCall("GET", path, headers=_ACCEPT)


def _post(path: str, body: Mapping[str, object]) -> PartnerCall:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return PartnerCall("POST", path, data, JSON_TYPE, _ACCEPT)


class ShanghaiDialect:
    """随申办's protocol (see the module's docstring)."""

    partner = PARTNER
    # Not sent to the partner, which keeps no such thing (see the module's docstring).
    drops: Mapping[str, frozenset[str]] = MappingProxyType(
        {
            "filing": frozenset({"destination", "remark"}),
            "transfer": frozenset({"toAccount", "phone"}),
        }
    )

    def token_call(self, id_number: str) -> PartnerCall:
        return _post(f"{PREFIX}/oauth/token", {"id_number": id_number})

    def read_credential(self, answer: PartnerAnswer) -> Credential:
        return read_credential(answer)

    def credential_header(self, credential: str) -> tuple[str, str]:
        return (TOKEN_HEADER, credential)

    def create_filing_call(
        self, id_number: str, reference: str, request: FilingRequest
    ) -> PartnerCall:
        body = {
            "request_id": reference,
            "id_number": id_number,
            "insurance_type": _reverse(INSURANCE_KINDS, request.insurance, "insurance type"),
            "filing_type": _reverse(FILING_TYPES, request.kind, "filing type"),
            "start_date": date_to_ms(request.startDate),
            "end_date": None if request.endDate is None else date_to_ms(request.endDate),
            "contact_phone": request.phone,
        }
        return _post(FILINGS, body)

    def find_filing_call(self, id_number: str, reference: str) -> PartnerCall:
        # The lookup needs no id_number: the credential's resident is the only one it searches.
        return _get(FILINGS + _query(request_id=reference))

    def get_filing_call(self, id_number: str, filing_id: str) -> PartnerCall:
        return _get(f"{FILINGS}/{path_segment(filing_id)}")

    def cancel_filing_call(self, id_number: str, filing_id: str, reason: str | None) -> PartnerCall:
        body = {} if reason is None else {"reason": reason}
        return _post(f"{FILINGS}/{path_segment(filing_id)}/revoke", body)

    def read_filing(self, answer: PartnerAnswer) -> Filing:
        return read_filing(answer)

    def records_call(
        self, id_number: str, from_month: str | None, to_month: str | None, page: int
    ) -> PartnerCall:
        if page < 1:
            raise ValueError("pages count from 1")
        query = _query(
            id_number=id_number,
            start_month=None if from_month is None else month_to_ms(from_month),
            end_month=None if to_month is None else month_to_ms(to_month),
            page=page,
            page_size=PAGE_SIZE,
        )
        return _get(f"{PREFIX}/social_insurance/payments{query}")

    def read_records(self, answer: PartnerAnswer) -> RecordsPage:
        return read_records(answer)

    def account_call(self, id_number: str) -> PartnerCall:
        return _get(f"{PREFIX}/housing_fund/account" + _query(id_number=id_number))

    def read_account(self, answer: PartnerAnswer) -> FundAccount:
        return read_account(answer)

    def create_transfer_call(
        self,
        id_number: str,
        reference: str,
        request: TransferRequest,
        account_no: str | None = None,  # 随申办 moves the resident's one account: not named
    ) -> PartnerCall:
        body = {
            "request_id": reference,
            "id_number": id_number,
            "target_division_code": request.toCentre,
        }
        return _post(TRANSFERS, body)

    def find_transfer_call(self, id_number: str, reference: str) -> PartnerCall:
        return _get(TRANSFERS + _query(request_id=reference))

    def get_transfer_call(self, id_number: str, transfer_id: str) -> PartnerCall:
        return _get(f"{TRANSFERS}/{path_segment(transfer_id)}")

    def read_transfer(self, answer: PartnerAnswer) -> Transfer:
        return read_transfer(answer)


# -- tests only: the partner's answers from canonical data, and calls read back ---------------


def _answer(result: object, status: int = 200) -> PartnerAnswer:
    body = {"success": True, "result": result, "error_code": None, "error_message": None}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return PartnerAnswer(status, JSON_TYPE, data)


def _unsaid(model: BaseModel, *names: str) -> None:
    """ValueError when ``model`` says something 随申办 does not keep."""
    for name in names:
        if getattr(model, name) is not None:
            raise ValueError(f"随申办 keeps no {name}")


def _said(value: str | None, name: str) -> str:
    if value is None:
        raise ValueError(f"随申办 always says {name}")
    return value


def _ours(partner: str) -> None:
    if partner != PARTNER:
        raise ValueError(f"not 随申办's data: partner {partner}")


def encode_filing(f: Filing, *, id_number: str = EXAMPLE_ID_NUMBER) -> PartnerAnswer:
    _ours(f.partner)
    _unsaid(f, "insuredCity", "destination", "destinationName", "remark")
    status = _reverse(FILING_STATUSES, f.status, "filing status")
    insurance = _reverse(INSURANCE_KINDS, f.insurance, "insurance type")
    kind = _reverse(FILING_TYPES, f.kind, "filing type")
    return _answer(
        {
            "filing_id": f.id,
            "request_id": f.reference,
            "id_number": id_number,
            "name": f.name,
            "insurance_type": insurance,
            "insurance_type_name": INSURANCE_KIND_NAMES[insurance],
            "filing_type": kind,
            "filing_type_name": FILING_TYPE_NAMES[kind],
            "start_date": date_to_ms(f.startDate),
            "end_date": None if f.endDate is None else date_to_ms(f.endDate),
            "contact_phone": f.phone,
            "status": status,
            "status_name": FILING_STATUS_NAMES[status],
            "created_at": moment_to_ms(f.filedAt),
            "revoked_at": None if f.cancelledAt is None else moment_to_ms(f.cancelledAt),
            "revoke_reason": f.cancelReason,
        }
    )


def _payment(c: Contribution) -> dict[str, object]:
    _unsaid(c, "paidOn")
    insurance = _reverse(PAYMENT_TYPES, c.insurance, "insurance type")
    return {
        "pay_month": month_to_ms(c.month),
        "insurance_type": insurance,
        "insurance_type_name": PAYMENT_TYPE_NAMES[insurance],
        "base_fen": money_to_fen(c.base),
        "personal_amount_fen": money_to_fen(c.personal),
        "employer_amount_fen": money_to_fen(c.employer),
        "employer_name": c.employerName,
        "pay_status": "PAID",
    }


def encode_records(
    r: Records, *, id_number: str = EXAMPLE_ID_NUMBER, page: int = 1, page_size: int = PAGE_SIZE
) -> PartnerAnswer:
    """``r``'s records as one page of the partner's answer (page 1 of ``page_size`` by default)."""
    _ours(r.partner)
    _unsaid(r, "insuredCity")
    return _answer(
        {
            "id_number": id_number,
            "name": r.name,
            "total": r.total,
            "page": page,
            "page_size": page_size,
            "records": [_payment(c) for c in r.records],
        }
    )


def encode_account(a: FundAccount, *, id_number: str = EXAMPLE_ID_NUMBER) -> PartnerAnswer:
    _ours(a.partner)
    _unsaid(a, "employerName", "sealedOn")
    status = _reverse(ACCOUNT_STATUSES, a.status, "account status")
    opened = a.openedOn
    last = a.lastDepositOn
    if opened is None or last is None:
        raise ValueError("随申办 always says openedOn and lastDepositOn")
    return _answer(
        {
            "account_no": a.accountNo,
            "id_number": id_number,
            "name": _said(a.name, "name"),
            "status": status,
            "status_name": ACCOUNT_STATUS_NAMES[status],
            "balance_fen": money_to_fen(a.balance),
            "transferring_fen": money_to_fen(a.transferring),
            "monthly_deposit_fen": money_to_fen(_said(a.monthlyDeposit, "monthlyDeposit")),
            "last_deposit_date": date_to_ms(last),
            "opened_date": date_to_ms(opened),
            "center_name": a.centre,
        }
    )


def encode_transfer(t: Transfer, *, id_number: str = EXAMPLE_ID_NUMBER) -> PartnerAnswer:
    """The partner's answer for ``t``: its moments are the local midnights of the dates (the
    canonical data keeps dates only)."""
    _ours(t.partner)
    _unsaid(t, "fromCentre", "toAccount", "phone")
    status = _reverse(TRANSFER_STATUSES, t.status, "transfer status")
    return _answer(
        {
            "transfer_id": t.id,
            "request_id": t.reference,
            "id_number": id_number,
            "name": _said(t.name, "name"),
            "account_no": t.accountNo,
            "amount_fen": money_to_fen(t.amount),
            "target_division_code": t.toCentre,
            "target_center_name": _said(t.toCentreName, "toCentreName"),
            "status": status,
            "status_name": TRANSFER_STATUS_NAMES[status],
            "created_at": date_to_ms(t.appliedOn),
            "completed_at": None if t.completedOn is None else date_to_ms(t.completedOn),
        }
    )


def _call_body(call: PartnerCall, path: str) -> dict[str, Any]:
    if (call.method, call.path, call.content_type) != ("POST", path, JSON_TYPE):
        raise ValueError(f"not a call to POST {path}")
    body = json.loads(call.body)
    if not isinstance(body, dict):
        raise ValueError("the call's body is not a JSON object")
    return body


def _ms_to_date(ms: int) -> date:
    day = ms_to_moment(ms).date()
    if date_to_ms(day) != ms:
        raise ValueError(f"{ms} is not a local midnight")
    return day


def decode_filing_request(call: PartnerCall) -> FilingRequest:
    """What a create-filing call sends, read back (destination: the stand-in; remark: None)."""
    body = _call_body(call, FILINGS)
    end = body.get("end_date")
    return FilingRequest.model_validate(
        {
            "insurance": INSURANCE_KINDS[body["insurance_type"]],
            "kind": FILING_TYPES[body["filing_type"]],
            "destination": UNSAID_DESTINATION,
            "startDate": _ms_to_date(body["start_date"]),
            "endDate": None if end is None else _ms_to_date(end),
            "phone": body["contact_phone"],
        }
    )


def decode_transfer_request(call: PartnerCall) -> TransferRequest:
    """What a create-transfer call sends, read back (phone: the stand-in; toAccount: None)."""
    body = _call_body(call, TRANSFERS)
    return TransferRequest(toCentre=body["target_division_code"], phone=UNSAID_PHONE)
