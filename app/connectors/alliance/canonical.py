"""The canonical alliance API's data: one vocabulary for 粤省事, 随申办 and 赣服通.

These pydantic models are the single source of the document's schemas (``document.py`` puts
their JSON Schemas into ``canonical.yaml``'s components) and of what the connector answers: every
answer is built as one of these models and serialised by it, so the document and the answers
cannot drift apart. Names are camelCase like the gateway's other canonical API (e-license).

A field a partner does not keep is null in its answers (随申办 records no destination for a
filing); the partner's own codes never appear: each dialect maps its code tables to these.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.divisions import division as known_division
from app.core.divisions import divisions

PartnerCode = Literal["440000", "310000", "360000"]
# 险种 of a medical-insurance filing: 职工基本医疗保险 / 城乡居民基本医疗保险.
MedicalInsurance = Literal["employee", "resident"]
# 备案类型: 异地长期居住, 临时外出就医 (needs an end date), 转诊转院, 异地工作.
FilingKind = Literal["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
FilingStatus = Literal["active", "cancelled"]
# 险种 of a contribution: 养老, 失业, 职工医疗, 工伤, 城乡居民医疗.
ContributionInsurance = Literal["pension", "unemployment", "medical", "injury", "resident-medical"]
# 账户状态: 正常, 封存, 转移中, 销户.
AccountStatus = Literal["normal", "sealed", "transferring", "closed"]
# 转移状态: 已受理, 办理中, 已办结, 已退回.
TransferStatus = Literal["accepted", "processing", "completed", "returned"]

Money = Annotated[
    str,
    Field(
        pattern=r"^(0|[1-9][0-9]{0,11})\.[0-9]{2}$",
        description="yuan with two decimals, as a string so that no amount is rounded",
        examples=["1234.50"],
    ),
]
Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2019-03"])]
HunanDivision = Annotated[
    str,
    Field(
        pattern=r"^43[0-9]{4}$",
        description="a Hunan division code (GB/T 2260)",
        examples=["430100"],
    ),
]
Phone = Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$", examples=["13800138000"])]
# The years a request may name: a partner's own date handling fails on year 0 or 9999, and its
# failure would count against the partner's breaker for every resident.
FIRST_YEAR, LAST_YEAR = 1990, 2099
# A month in a query (the same years).
QUERY_MONTH = r"^(199[0-9]|20[0-9]{2})-(0[1-9]|1[0-2])$"


def _plausible(day: date) -> date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"a date from {FIRST_YEAR} to {LAST_YEAR}")
    return day


def _printable(text: str) -> str:
    # Control and invisible formatting characters (NUL, bidi overrides) are refused rather than
    # stored at one partner and stripped at another.
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        raise ValueError("printable text (no control or invisible formatting characters)")
    return text


def _hunan_division(code: str) -> str:
    if known_division(code) is None:
        raise ValueError(f"{code} is not a division of Hunan (GB/T 2260)")
    return code


# Said in the document too, so that clients and test generators send what is accepted.
RequestDate = Annotated[
    date,
    Field(
        json_schema_extra={
            "pattern": r"^(199[0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
        }
    ),
    AfterValidator(_plausible),
]
# 100: the most every partner takes (赣服通 refuses longer text).
Text = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
KnownHunanDivision = Annotated[
    HunanDivision,
    Field(json_schema_extra={"enum": sorted(c for c in divisions() if c.startswith("43"))}),
    AfterValidator(_hunan_division),
]
# The partner's identifiers: opaque, but only characters a URL path carries as they are.
PARTNER_ID = r"^[A-Za-z0-9_.-]{1,64}$"
PartnerId = Annotated[str, Field(pattern=PARTNER_ID)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilingRequest(Model):
    """医保异地就医备案: file one's medical insurance in the partner province for treatment in
    Hunan."""

    insurance: MedicalInsurance
    kind: FilingKind
    destination: KnownHunanDivision = Field(description="where in Hunan the treatment is (就医地)")
    startDate: RequestDate
    endDate: RequestDate | None = Field(
        default=None,
        description="required for temporary-treatment (at most 180 days after startDate)",
    )
    phone: Phone
    remark: Text | None = None


class FilingCancellation(Model):
    reason: Text | None = None


class Filing(Model):
    """A medical-insurance off-site filing held by the partner."""

    id: PartnerId = Field(description="the partner's filing number (备案编号)")
    reference: str = Field(description="the request reference the gateway filed it with")
    partner: PartnerCode
    status: FilingStatus
    name: str | None
    insurance: MedicalInsurance
    kind: FilingKind
    insuredCity: str | None = Field(description="参保地, null where the partner does not say")
    destination: HunanDivision | None
    destinationName: str | None
    startDate: date
    endDate: date | None
    phone: str
    remark: str | None
    filedAt: datetime
    cancelledAt: datetime | None
    cancelReason: str | None


class Contribution(Model):
    month: Month
    insurance: ContributionInsurance
    base: Money
    personal: Money
    employer: Money
    employerName: str
    paidOn: date | None = Field(description="when it reached the fund; null where not said")


class Records(Model):
    """社保缴费记录: the caller's monthly contributions in the partner province."""

    partner: PartnerCode
    name: str | None
    insuredCity: str | None
    total: int = Field(ge=0)
    records: list[Contribution]


class FundAccount(Model):
    """住房公积金账户: the caller's provident-fund account in the partner province."""

    partner: PartnerCode
    accountNo: str
    name: str | None
    centre: str = Field(description="the fund centre keeping it")
    employerName: str | None
    status: AccountStatus
    balance: Money
    transferring: Money = Field(description="the amount a transfer in progress is moving")
    monthlyDeposit: Money | None
    openedOn: date | None
    lastDepositOn: date | None
    sealedOn: date | None


class TransferRequest(Model):
    """住房公积金异地转移接续: move the whole balance to a Hunan centre."""

    toCentre: KnownHunanDivision = Field(
        description="the Hunan division whose fund centre receives it"
    )
    toAccount: Annotated[str, Field(pattern=r"^[0-9]{6,32}$")] | None = Field(
        default=None, description="the account at the Hunan centre, when known"
    )
    phone: Phone


class Transfer(Model):
    id: PartnerId = Field(description="the partner's transfer number")
    reference: str
    partner: PartnerCode
    status: TransferStatus
    name: str | None
    accountNo: str
    fromCentre: str | None
    toCentre: HunanDivision
    toCentreName: str | None
    toAccount: str | None
    phone: str | None
    amount: Money
    appliedOn: date
    completedOn: date | None


class ProblemError(BaseModel):
    pointer: str
    detail: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details), the gateway's and the alliance service's alike."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI reference of the problem type")
    title: str
    status: int = Field(ge=100, le=599)
    detail: str
    instance: str | None = Field(default=None, description="the request id")
    fault: Literal["caller", "gateway", "upstream"] | None = Field(
        default=None, description="whose fault it is"
    )
    errors: list[ProblemError] | None = Field(
        default=None, description="each fault of a refused request, with a JSON pointer"
    )
    partner: PartnerCode | None = Field(default=None, description="the partner that refused")
    partnerCode: str | None = Field(default=None, description="the partner's own error code")
    partnerMessage: str | None = Field(default=None, description="the partner's own message")


SCHEMAS: tuple[type[BaseModel], ...] = (
    FilingRequest,
    FilingCancellation,
    Filing,
    Contribution,
    Records,
    FundAccount,
    TransferRequest,
    Transfer,
    Problem,
)
