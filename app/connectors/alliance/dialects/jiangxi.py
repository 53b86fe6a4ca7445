"""赣服通 (Jiangxi, 360000): the alliance dialect of its XML protocol.

Every operation is a POST of ``<Request><Head><QDBS>XYB</QDBS></Head><Body>..</Body></Request>``
(application/xml; charset=UTF-8) below ``/gft/service/``; every answer is
``<Response><Head><RetCode/><RetMsg/></Head><Body>..</Body></Response>``. Element names are
upper-case pinyin initials (ZJHM 证件号码, XM 姓名, BABH 备案编号, QQLSH 请求流水号, ...); dates are
yyyyMMdd, months yyyyMM, times yyyyMMddHHmmss (China time), amounts yuan with two decimals. Nothing
the caller gives travels in a URL: every value is in the XML body, so no path needs encoding.

Answers are parsed with defusedxml only, DTDs, entity declarations and external references
forbidden: an answer carrying any (XXE, billion laughs) is a :class:`BadPartnerAnswer`, never
expanded. A success is RetCode 0000 with HTTP 200; any other RetCode is a refusal
(:data:`REFUSALS`), its code and RetMsg kept verbatim.

- token: ``auth/token`` (the connector adds ``X-XYB-Assertion``); the credential PZ lives YXSC
  seconds and travels in ``X-GFT-Credential``.
- filings: ``ybydba/add`` (QQLSH = the reference), ``ybydba/query`` (by BABH or by QQLSH),
  ``ybydba/cancel`` (BABH, CXYY).
- records: ``sbjf/query``, paged: YM (page, from 1) and MYTS (page size, at most 200; always
  asked at 200); ZJLS is the count of all of them.
- fund: ``gjj/account``; ``gjj/transfer/add`` and ``gjj/transfer/query`` (by ZYBH or QQLSH).

What 赣服通 does not keep, always None in canonical answers:
- Filing: ``remark`` (it takes none) and ``insuredCity`` (CBDQH is only its province code,
  360000, i.e. the partner itself, not a city). A destination JYDQH outside Hunan (a filing made
  in 赣服通 itself) has ``destination`` None; its name stays in ``destinationName``.
- Contribution: ``paidOn`` (JFZT only says 01 已实缴, not when).
- FundAccount: ``sealedOn``. ``balance`` is KYYE (可用余额: 0.00 while a transfer moves it) and
  ``transferring`` ZYZJE, as the other partners count them; ZHYE (their sum) is not read.
- Transfer: ``toAccount`` and ``completedOn``; ``appliedOn`` is the date of SQSJ.

What requests drop: FilingRequest.remark and TransferRequest.toAccount (赣服通 takes neither).
赣服通's transfer request needs the caller's account number GRZH, which TransferRequest does not
carry: :meth:`JiangxiDialect.create_transfer_call` takes it as ``account_no`` (from
:meth:`JiangxiDialect.read_account`); without it 赣服通 answers 1001 (invalid).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # writing only; every XML read goes through defusedxml
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import BaseModel

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
)

PARTNER: Final = "360000"
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
MEDIA_TYPE: Final = "application/xml; charset=UTF-8"
CREDENTIAL_HEADER: Final = "x-gft-credential"
CHANNEL: Final = "XYB"  # QDBS 渠道标识: who is calling
PAGE_SIZE: Final = 200  # MYTS: the largest page 赣服通 allows
OK: Final = "0000"

SIGN_ON_PATH: Final = "/gft/service/auth/token"
FILING_ADD_PATH: Final = "/gft/service/ybydba/add"
FILING_QUERY_PATH: Final = "/gft/service/ybydba/query"
FILING_CANCEL_PATH: Final = "/gft/service/ybydba/cancel"
RECORDS_PATH: Final = "/gft/service/sbjf/query"
ACCOUNT_PATH: Final = "/gft/service/gjj/account"
TRANSFER_ADD_PATH: Final = "/gft/service/gjj/transfer/add"
TRANSFER_QUERY_PATH: Final = "/gft/service/gjj/transfer/query"

# -- code tables (赣服通 -> canonical; the encoders invert them) ----------------------------------

FILING_STATUSES: Final[dict[str, FilingStatus]] = {"01": "active", "02": "cancelled"}
MEDICAL_TYPES: Final[dict[str, MedicalInsurance]] = {"310": "employee", "390": "resident"}
FILING_KINDS: Final[dict[str, FilingKind]] = {
    "21": "long-term-residence",
    "22": "off-site-work",
    "23": "referral",
    "29": "temporary-treatment",
}
CONTRIBUTION_TYPES: Final[dict[str, ContributionInsurance]] = {
    "110": "pension",
    "210": "unemployment",
    "310": "medical",
    "410": "injury",
    "390": "resident-medical",
}
ACCOUNT_STATUSES: Final[dict[str, AccountStatus]] = {
    "01": "normal",
    "02": "sealed",
    "03": "transferring",
    "04": "closed",
}
TRANSFER_STATUSES: Final[dict[str, TransferStatus]] = {
    "01": "accepted",
    "02": "processing",
    "03": "completed",
    "04": "returned",
}
PAID: Final = "01"  # JFZT: the only payment status 赣服通 shows (已实缴)

# The names 赣服通 writes beside its codes (read by nobody here: the encoders write them so that
# their answers are the partner's own).
_NAMES: Final[dict[str, dict[str, str]]] = {
    "BAZT": {"01": "有效", "02": "已撤销"},
    "XZLX": {
        "110": "企业职工基本养老保险",
        "210": "失业保险",
        "310": "职工基本医疗保险",
        "390": "城乡居民基本医疗保险",
        "410": "工伤保险",
    },
    "BALX": {"21": "异地长期居住", "22": "常驻异地工作", "23": "异地转诊", "29": "临时外出就医"},
    "ZHZT": {"01": "正常", "02": "封存", "03": "转移中", "04": "已销户"},
    "ZYZT": {"01": "已受理", "02": "办理中", "03": "已办结", "04": "已退回"},
    "JFZT": {PAID: "已实缴"},
}

# RetCode -> how the connector answers it. 1002/1003/9413/9404/9405 mean 赣服通 could not read
# the gateway's own request (never built from bad caller input): the gateway's fault, "failed".
REFUSALS: Final[dict[str, RefusalKind]] = {
    "1001": "invalid",
    "1002": "failed",
    "1003": "failed",
    "2001": "not-found",
    "2002": "conflict",
    "4001": "credential",
    "4002": "assertion",
    "4003": "forbidden",
    "9404": "failed",
    "9405": "failed",
    "9413": "failed",
    "9500": "failed",
    "9503": "unavailable",
}

_RET_CODE = re.compile(r"[0-9]{4}")
_DAY = re.compile(r"[0-9]{8}")
_TIME = re.compile(r"[0-9]{14}")
_MONTH = re.compile(r"([0-9]{4})(0[1-9]|1[0-2])")
_CANONICAL_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_DIVISION = re.compile(r"[0-9]{6}")
# Up to 12 digits: a count or a lifetime larger than that is nonsense, and int() stays cheap.
_COUNT = re.compile(r"[0-9]{1,12}")
_AMOUNT = re.compile(r"(-?)([0-9]{1,15})\.([0-9]{2})")
# What XML 1.0 cannot carry at all (not even escaped).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Fields = dict[str, ET.Element]


# -- reading XML (untrusted) -------------------------------------------------------------------


def _parse(raw: bytes, root_tag: str) -> ET.Element:
    """The document's root, parsed safely: a DTD, an entity or an external reference is refused
    before anything is expanded."""
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as refused:
        raise BadPartnerAnswer(
            f"XML with a DTD or entities refused ({type(refused).__name__})"
        ) from None
    except (ET.ParseError, ValueError) as exc:
        raise BadPartnerAnswer(f"not well-formed XML: {exc}") from None
    if root.tag != root_tag:
        raise BadPartnerAnswer(f"the root element is not <{root_tag}>")
    return root


def _children(element: ET.Element, where: str) -> Fields:
    """The child elements by tag; a tag twice is ambiguous, so refused."""
    found: Fields = {}
    for child in element:
        if child.tag in found:
            raise BadPartnerAnswer(f"{where}/{child.tag} appears twice")
        found[child.tag] = child
    return found


def _text(fields: Fields, name: str) -> str | None:
    """A leaf's text; absent or empty: None (赣服通 leaves absent values out)."""
    element = fields.get(name)
    if element is None:
        return None
    if len(element):
        raise BadPartnerAnswer(f"{name} is not text")
    return element.text or None


def _required(fields: Fields, name: str) -> str:
    value = _text(fields, name)
    if value is None:
        raise BadPartnerAnswer(f"{name} is missing")
    return value


def _code(value: str, name: str, table: Mapping[str, T]) -> T:
    if value not in table:
        raise BadPartnerAnswer(f"{name} {value[:16]!r} is outside its code table")
    return table[value]


def _coded(fields: Fields, name: str, table: Mapping[str, T]) -> T:
    return _code(_required(fields, name), name, table)


def _day(value: str, name: str) -> date:
    if not _DAY.fullmatch(value):
        raise BadPartnerAnswer(f"{name} is not a yyyyMMdd date")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise BadPartnerAnswer(f"{name} is not a valid date") from None


def _optional_day(fields: Fields, name: str) -> date | None:
    value = _text(fields, name)
    return None if value is None else _day(value, name)


def _time(value: str, name: str) -> datetime:
    """yyyyMMddHHmmss, China time."""
    if not _TIME.fullmatch(value):
        raise BadPartnerAnswer(f"{name} is not a yyyyMMddHHmmss time")
    try:
        return datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:]),
            tzinfo=SHANGHAI,
        )
    except ValueError:
        raise BadPartnerAnswer(f"{name} is not a valid time") from None


def _optional_time(fields: Fields, name: str) -> datetime | None:
    value = _text(fields, name)
    return None if value is None else _time(value, name)


def _month(value: str, name: str) -> str:
    """yyyyMM -> canonical yyyy-MM."""
    found = _MONTH.fullmatch(value)
    if found is None:
        raise BadPartnerAnswer(f"{name} is not a yyyyMM month")
    return f"{found[1]}-{found[2]}"


def _count(fields: Fields, name: str) -> int:
    value = _required(fields, name)
    if not _COUNT.fullmatch(value):
        raise BadPartnerAnswer(f"{name} is not a count")
    return int(value)


def _amount(value: str, name: str) -> str:
    """Yuan with two decimals -> canonical Money, through integer fen (never a float)."""
    found = _AMOUNT.fullmatch(value)
    if found is None:
        raise BadPartnerAnswer(f"{name} is not an amount with two decimals")
    fen = int(found[2]) * 100 + int(found[3])
    if found[1] and fen:
        raise BadPartnerAnswer(f"{name} is negative")
    return f"{fen // 100}.{fen % 100:02d}"


def _money(fields: Fields, name: str) -> str:
    return _amount(_required(fields, name), name)


def _optional_money(fields: Fields, name: str) -> str | None:
    value = _text(fields, name)
    return None if value is None else _amount(value, name)


def _media_type_is_xml(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/xml", "text/xml")


def _refusal_kind(code: str, status: int) -> RefusalKind:
    kind = REFUSALS.get(code)
    if kind is not None:
        return kind
    return "unavailable" if status == 503 else "failed"


def read_answer(answer: PartnerAnswer) -> Fields:
    """The Body fields of a success; :class:`PartnerRefused` for any other RetCode;
    :class:`BadPartnerAnswer` for what is not 赣服通's envelope."""
    if not _media_type_is_xml(answer.content_type):
        raise BadPartnerAnswer(f"content type {answer.content_type[:60]!r} is not XML")
    root = _children(_parse(answer.body, "Response"), "Response")
    head = root.get("Head")
    if head is None:
        raise BadPartnerAnswer("Head is missing")
    head_fields = _children(head, "Head")
    code = _required(head_fields, "RetCode")
    if not _RET_CODE.fullmatch(code):
        raise BadPartnerAnswer("RetCode is not four digits")
    if "RetMsg" not in head_fields:
        raise BadPartnerAnswer("RetMsg is missing")
    message = _text(head_fields, "RetMsg") or ""
    if code != OK:
        raise PartnerRefused(_refusal_kind(code, answer.status), code, message)
    if answer.status != 200:
        raise BadPartnerAnswer(f"RetCode {OK} with HTTP {answer.status}")
    body = root.get("Body")
    if body is None:
        raise BadPartnerAnswer("Body is missing")
    return _children(body, "Body")


def _request_fields(call: PartnerCall) -> Fields:
    """The Body fields of a request this dialect built (tests read calls back with it)."""
    root = _children(_parse(call.body, "Request"), "Request")
    body = root.get("Body")
    if body is None:
        raise BadPartnerAnswer("Body is missing")
    return _children(body, "Body")


# -- writing XML -------------------------------------------------------------------------------

# A Body value: text, or a list of records (each <JL> of text fields); None is left out.
Value = str | Sequence[Mapping[str, "str | None"]] | None


def _xml_text(value: str) -> str:
    """Request text XML can carry: characters XML 1.0 cannot hold at all are dropped (a
    control character in a cancel reason must not make the whole request unreadable)."""
    return _NOT_XML.sub("", value)


def _append(parent: ET.Element, name: str, value: Value) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, str):
        element.text = value
    elif value is not None:
        for record in value:  # a list: one <JL> per record
            item = ET.SubElement(element, "JL")
            for key, field in record.items():
                if field is not None:
                    _append(item, key, field)


def _document(root_tag: str, head: Mapping[str, str], body: Mapping[str, Value]) -> bytes:
    root = ET.Element(root_tag)
    head_element = ET.SubElement(root, "Head")
    for name, text in head.items():
        ET.SubElement(head_element, name).text = text
    body_element = ET.SubElement(root, "Body")
    for name, value in body.items():
        if value is not None:  # absent values are left out, as 赣服通 does
            _append(body_element, name, value)
    written: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return written


def _call(path: str, body: Mapping[str, str | None]) -> PartnerCall:
    cleaned: dict[str, Value] = {k: None if v is None else _xml_text(v) for k, v in body.items()}
    return PartnerCall(
        method="POST",
        path=path,
        body=_document("Request", {"QDBS": CHANNEL}, cleaned),
        content_type=MEDIA_TYPE,
        headers=(("accept", "application/xml"),),
    )


def _ymd(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _yyyymm(month: str | None) -> str | None:
    """Canonical yyyy-MM -> yyyyMM (anything else is sent as it is, for 赣服通 to refuse)."""
    if month is None:
        return None
    found = _CANONICAL_MONTH.fullmatch(month)
    return f"{found[1]}{found[2]}" if found else month


# -- the dialect -------------------------------------------------------------------------------


class JiangxiDialect:
    """赣服通's protocol (see the module docstring)."""

    partner: str = PARTNER
    # Not sent to the partner, which keeps no such thing (see the module's docstring).
    drops: Mapping[str, frozenset[str]] = MappingProxyType(
        {"filing": frozenset({"remark"}), "transfer": frozenset({"toAccount"})}
    )

    # -- outbound single sign-on ---------------------------------------------------------------
    def token_call(self, id_number: str) -> PartnerCall:
        # With the gateway's assertion 赣服通 binds the credential to its id_number; ZJHM must
        # then be the same person (4003 otherwise), and without keys (replay) it names the user.
        return _call(SIGN_ON_PATH, {"ZJHM": id_number})

    def read_credential(self, answer: PartnerAnswer) -> Credential:
        fields = read_answer(answer)
        return Credential(value=_required(fields, "PZ"), expires_in=_count(fields, "YXSC"))

    def credential_header(self, credential: str) -> tuple[str, str]:
        return (CREDENTIAL_HEADER, credential)

    # -- medical-insurance off-site filing -----------------------------------------------------
    def create_filing_call(
        self, id_number: str, reference: str, request: FilingRequest
    ) -> PartnerCall:
        # remark is dropped: 赣服通 takes none.
        return _call(
            FILING_ADD_PATH,
            {
                "QQLSH": reference,
                "ZJHM": id_number,
                "XZLX": _encode_code(request.insurance, MEDICAL_TYPES),
                "BALX": _encode_code(request.kind, FILING_KINDS),
                "JYDQH": request.destination,
                "KSRQ": _ymd(request.startDate),
                "ZZRQ": _ymd(request.endDate) if request.endDate else None,
                "LXDH": request.phone,
            },
        )

    def find_filing_call(self, id_number: str, reference: str) -> PartnerCall:
        # The credential names the person; the query itself takes no ZJHM.
        return _call(FILING_QUERY_PATH, {"QQLSH": reference})

    def get_filing_call(self, id_number: str, filing_id: str) -> PartnerCall:
        return _call(FILING_QUERY_PATH, {"BABH": filing_id})

    def cancel_filing_call(self, id_number: str, filing_id: str, reason: str | None) -> PartnerCall:
        # Without a reason 赣服通 records its own ("参保人申请撤销").
        return _call(FILING_CANCEL_PATH, {"BABH": filing_id, "CXYY": reason})

    def read_filing(self, answer: PartnerAnswer) -> Filing:
        return _filing(read_answer(answer))

    # -- social-insurance records --------------------------------------------------------------
    def records_call(
        self, id_number: str, from_month: str | None, to_month: str | None, page: int
    ) -> PartnerCall:
        return _call(
            RECORDS_PATH,
            {
                "ZJHM": id_number,
                "KSNY": _yyyymm(from_month),
                "JSNY": _yyyymm(to_month),
                "YM": str(page),
                "MYTS": str(PAGE_SIZE),
            },
        )

    def read_records(self, answer: PartnerAnswer) -> RecordsPage:
        fields = read_answer(answer)
        total = _count(fields, "ZJLS")
        page, size = _count(fields, "YM"), _count(fields, "MYTS")
        records = [_contribution(item) for item in _list(fields, "JFJL", "JL")]
        canonical = build(
            Records,
            partner=PARTNER,
            name=_text(fields, "XM"),
            insuredCity=_text(fields, "CBDMC"),
            total=total,
            records=records,
        )
        # An empty page ends the paging even if ZJLS says more (no endless asking).
        more = bool(records) and page >= 1 and size >= 1 and page * size < total
        return RecordsPage(records=canonical, next_page=page + 1 if more else None)

    # -- provident fund ------------------------------------------------------------------------
    def account_call(self, id_number: str) -> PartnerCall:
        return _call(ACCOUNT_PATH, {"ZJHM": id_number})

    def read_account(self, answer: PartnerAnswer) -> FundAccount:
        fields = read_answer(answer)
        return build(
            FundAccount,
            partner=PARTNER,
            accountNo=_required(fields, "GRZH"),
            name=_text(fields, "XM"),
            centre=_required(fields, "GJJZX"),
            employerName=_text(fields, "DWMC"),
            status=_coded(fields, "ZHZT", ACCOUNT_STATUSES),
            balance=_money(fields, "KYYE"),
            transferring=_money(fields, "ZYZJE"),
            monthlyDeposit=_optional_money(fields, "YJCE"),
            openedOn=_optional_day(fields, "KHRQ"),
            lastDepositOn=_optional_day(fields, "ZHJCRQ"),
            sealedOn=None,
        )

    def create_transfer_call(
        self,
        id_number: str,
        reference: str,
        request: TransferRequest,
        account_no: str | None = None,
    ) -> PartnerCall:
        # GRZH (the caller's account number) is required by 赣服通 but not in TransferRequest:
        # the connector passes FundAccount.accountNo. toAccount is dropped (赣服通 takes none);
        # ZRZXMC is left out, so 赣服通 names the receiving centre itself.
        return _call(
            TRANSFER_ADD_PATH,
            {
                "QQLSH": reference,
                "ZJHM": id_number,
                "GRZH": account_no,
                "ZRCSDM": request.toCentre,
                "LXDH": request.phone,
            },
        )

    def find_transfer_call(self, id_number: str, reference: str) -> PartnerCall:
        return _call(TRANSFER_QUERY_PATH, {"QQLSH": reference})

    def get_transfer_call(self, id_number: str, transfer_id: str) -> PartnerCall:
        return _call(TRANSFER_QUERY_PATH, {"ZYBH": transfer_id})

    def read_transfer(self, answer: PartnerAnswer) -> Transfer:
        fields = read_answer(answer)
        applied = _time(_required(fields, "SQSJ"), "SQSJ")
        return build(
            Transfer,
            id=_required(fields, "ZYBH"),
            reference=_required(fields, "QQLSH"),
            partner=PARTNER,
            status=_coded(fields, "ZYZT", TRANSFER_STATUSES),
            name=_text(fields, "XM"),
            accountNo=_required(fields, "GRZH"),
            fromCentre=_text(fields, "ZCZXMC"),
            toCentre=_required(fields, "ZRCSDM"),
            toCentreName=_text(fields, "ZRZXMC"),
            toAccount=None,
            phone=_text(fields, "LXDH"),
            amount=_money(fields, "ZYJE"),
            appliedOn=applied.date(),
            completedOn=None,
        )


# -- readers of the records ------------------------------------------------------------------


def _filing(fields: Fields) -> Filing:
    place = _text(fields, "JYDQH")
    if place is not None and not _DIVISION.fullmatch(place):
        raise BadPartnerAnswer("JYDQH is not a division code")
    return build(
        Filing,
        id=_required(fields, "BABH"),
        reference=_required(fields, "QQLSH"),
        partner=PARTNER,
        status=_coded(fields, "BAZT", FILING_STATUSES),
        name=_text(fields, "XM"),
        insurance=_coded(fields, "XZLX", MEDICAL_TYPES),
        kind=_coded(fields, "BALX", FILING_KINDS),
        insuredCity=None,
        # A destination outside Hunan (a filing made in 赣服通 itself) is not a Hunan division:
        # canonical keeps only its name.
        destination=place if place is not None and place.startswith("43") else None,
        destinationName=_text(fields, "JYDMC"),
        startDate=_day(_required(fields, "KSRQ"), "KSRQ"),
        endDate=_optional_day(fields, "ZZRQ"),
        phone=_required(fields, "LXDH"),
        remark=None,
        filedAt=_time(_required(fields, "SLSJ"), "SLSJ"),
        cancelledAt=_optional_time(fields, "CXSJ"),
        cancelReason=_text(fields, "CXYY"),
    )


def _list(fields: Fields, name: str, item: str) -> list[Fields]:
    """The records of a wrapped list (``<JFJL><JL>..</JL>..</JFJL>``), each one's fields."""
    element = fields.get(name)
    if element is None:
        raise BadPartnerAnswer(f"{name} is missing")
    records: list[Fields] = []
    for child in element:
        if child.tag != item:
            raise BadPartnerAnswer(f"{name} holds <{str(child.tag)[:20]}>, not <{item}>")
        records.append(_children(child, f"{name}/{item}"))
    if not records and (element.text or "").strip():
        raise BadPartnerAnswer(f"{name} is text, not a list")
    return records


def _contribution(fields: Fields) -> Contribution:
    status = _text(fields, "JFZT")
    if status is not None:
        _code(status, "JFZT", {PAID: PAID})
    return build(
        Contribution,
        month=_month(_required(fields, "JFNY"), "JFNY"),
        insurance=_coded(fields, "XZLX", CONTRIBUTION_TYPES),
        base=_money(fields, "JFJS"),
        personal=_money(fields, "GRJFJE"),
        employer=_money(fields, "DWJFJE"),
        employerName=_required(fields, "DWMC"),
        paidOn=None,
    )


# -- encoders: 赣服通's own success answers for canonical data (tests) ---------------------------


def _encode_code(value: T, table: Mapping[str, T]) -> str:
    for code, canonical in table.items():
        if canonical == value:
            return code
    raise ValueError(f"赣服通 has no code for {value!r}")


# The element naming a code's meaning: 险种 XZLX is named XZMC, the others <code>MC.
_NAME_ELEMENTS: Final = {"XZLX": "XZMC"}


def _named(name: str, code: str) -> dict[str, str]:
    return {name: code, _NAME_ELEMENTS.get(name, f"{name}MC"): _NAMES[name][code]}


def _cannot_carry(what: str, value: object) -> None:
    if value is not None:
        raise ValueError(f"赣服通 does not keep {what}")


def _checked_text(value: str | None, what: str) -> str | None:
    """Text the answer can carry back unchanged: not empty (an empty element reads as absent)
    and only characters XML holds."""
    if value is None:
        return None
    if not value or _NOT_XML.search(value) or "\r" in value:
        raise ValueError(f"赣服通's XML cannot carry {what} {value!r} unchanged")
    return value


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no China time")
    local = moment.astimezone(SHANGHAI)
    return f"{_ymd(local.date())}{local.hour:02d}{local.minute:02d}{local.second:02d}"


def _answer(body: Mapping[str, Value]) -> PartnerAnswer:
    return PartnerAnswer(
        200, MEDIA_TYPE, _document("Response", {"RetCode": OK, "RetMsg": "成功"}, body)
    )


def _fen(money: str) -> int:
    yuan, cents = money.split(".")
    return int(yuan) * 100 + int(cents)


def encode_filing(f: Filing) -> PartnerAnswer:
    _cannot_carry("a filing's remark", f.remark)
    _cannot_carry("a filing's insured city (only its province code)", f.insuredCity)
    if f.filedAt.microsecond or (f.cancelledAt and f.cancelledAt.microsecond):
        raise ValueError("赣服通's times are to the second")
    return _answer(
        {
            "BABH": _checked_text(f.id, "id"),
            "QQLSH": _checked_text(f.reference, "reference"),
            "XM": _checked_text(f.name, "name"),
            **_named("XZLX", _encode_code(f.insurance, MEDICAL_TYPES)),
            **_named("BALX", _encode_code(f.kind, FILING_KINDS)),
            "CBDQH": PARTNER,
            "JYDQH": f.destination,
            "JYDMC": _checked_text(f.destinationName, "destinationName"),
            "KSRQ": _ymd(f.startDate),
            "ZZRQ": _ymd(f.endDate) if f.endDate else None,
            "LXDH": _checked_text(f.phone, "phone"),
            **_named("BAZT", _encode_code(f.status, FILING_STATUSES)),
            "SLSJ": _timestamp(f.filedAt),
            "CXSJ": _timestamp(f.cancelledAt) if f.cancelledAt else None,
            "CXYY": _checked_text(f.cancelReason, "cancelReason"),
        }
    )


def _encode_contribution(c: Contribution) -> dict[str, str | None]:
    _cannot_carry("when a contribution was paid", c.paidOn)
    year, month = c.month.split("-")
    return {
        "JFNY": f"{year}{month}",
        **_named("XZLX", _encode_code(c.insurance, CONTRIBUTION_TYPES)),
        "JFJS": c.base,
        "DWJFJE": c.employer,
        "GRJFJE": c.personal,
        **_named("JFZT", PAID),
        "DWMC": _checked_text(c.employerName, "employerName"),
    }


def encode_records(r: Records) -> PartnerAnswer:
    """All of ``r`` as page 1 (ZJLS its total)."""
    return _answer(
        {
            "XM": _checked_text(r.name, "name"),
            "CBDMC": _checked_text(r.insuredCity, "insuredCity"),
            "ZJLS": str(r.total),
            "YM": "1",
            "MYTS": str(PAGE_SIZE),
            "JFJL": [_encode_contribution(c) for c in r.records],
        }
    )


def encode_account(a: FundAccount) -> PartnerAnswer:
    _cannot_carry("when an account was sealed", a.sealedOn)
    return _answer(
        {
            "GRZH": _checked_text(a.accountNo, "accountNo"),
            "XM": _checked_text(a.name, "name"),
            "DWMC": _checked_text(a.employerName, "employerName"),
            "GJJZX": _checked_text(a.centre, "centre"),
            "KHRQ": _ymd(a.openedOn) if a.openedOn else None,
            **_named("ZHZT", _encode_code(a.status, ACCOUNT_STATUSES)),
            "YJCE": a.monthlyDeposit,
            # ZHYE 账户余额 holds what is available and what a transfer is moving.
            "ZHYE": _amount_text(_fen(a.balance) + _fen(a.transferring)),
            "KYYE": a.balance,
            "ZYZJE": a.transferring,
            "ZHJCRQ": _ymd(a.lastDepositOn) if a.lastDepositOn else None,
        }
    )


def _amount_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def encode_transfer(t: Transfer) -> PartnerAnswer:
    _cannot_carry("the account at the receiving centre", t.toAccount)
    _cannot_carry("when a transfer completed", t.completedOn)
    return _answer(
        {
            "ZYBH": _checked_text(t.id, "id"),
            "QQLSH": _checked_text(t.reference, "reference"),
            "XM": _checked_text(t.name, "name"),
            "GRZH": _checked_text(t.accountNo, "accountNo"),
            "ZCZXMC": _checked_text(t.fromCentre, "fromCentre"),
            "ZRCSDM": t.toCentre,
            "ZRZXMC": _checked_text(t.toCentreName, "toCentreName"),
            "ZYJE": t.amount,
            "LXDH": _checked_text(t.phone, "phone"),
            **_named("ZYZT", _encode_code(t.status, TRANSFER_STATUSES)),
            # SQSJ is a time; canonical keeps the day only.
            "SQSJ": f"{_ymd(t.appliedOn)}000000",
        }
    )


# -- decoders of the requests (tests) ----------------------------------------------------------


def decode_filing_request(call: PartnerCall) -> FilingRequest:
    fields = _request_fields(call)
    end = _text(fields, "ZZRQ")
    return build(
        FilingRequest,
        insurance=_coded(fields, "XZLX", MEDICAL_TYPES),
        kind=_coded(fields, "BALX", FILING_KINDS),
        destination=_required(fields, "JYDQH"),
        startDate=_day(_required(fields, "KSRQ"), "KSRQ"),
        endDate=None if end is None else _day(end, "ZZRQ"),
        phone=_required(fields, "LXDH"),
        remark=None,
    )


def decode_transfer_request(call: PartnerCall) -> TransferRequest:
    fields = _request_fields(call)
    return build(
        TransferRequest,
        toCentre=_required(fields, "ZRCSDM"),
        toAccount=None,
        phone=_required(fields, "LXDH"),
    )
