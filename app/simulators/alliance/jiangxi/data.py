"""赣服通's code tables and seeded data: the insured people, their contributions and their
provident-fund accounts.

The people are the Hunan residents with a history in Jiangxi (``common.alliance_residents``,
deterministic per seed); a provider state can add one more (any valid ID number). Everything a
person has (employer, contributions, fund account) is drawn from a generator seeded with the seed
and the ID number, so the same seed always gives the same answers. Filings and transfers start
empty: they are what requests create.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from app.simulators.alliance.common import AllianceResident, alliance_residents

PARTNER_CODE = "360000"

# 备案状态 (filing status).
FILING_VALID, FILING_CANCELLED = "01", "02"
FILING_STATUSES = {FILING_VALID: "有效", FILING_CANCELLED: "已撤销"}
# 险种类型 (insurance types, GB/T 31088-style codes as 赣服通 writes them).
PENSION, UNEMPLOYMENT, EMPLOYEE_MEDICAL, INJURY, RESIDENT_MEDICAL = (
    "110",
    "210",
    "310",
    "410",
    "390",
)
INSURANCE_TYPES = {
    PENSION: "企业职工基本养老保险",
    UNEMPLOYMENT: "失业保险",
    EMPLOYEE_MEDICAL: "职工基本医疗保险",
    INJURY: "工伤保险",
    RESIDENT_MEDICAL: "城乡居民基本医疗保险",
}
# What a medical-insurance filing can be for.
MEDICAL_TYPES = (EMPLOYEE_MEDICAL, RESIDENT_MEDICAL)
# 备案类型 (filing kinds), 赣服通's own codes; 临时外出就医 needs an end date.
LONG_TERM_RESIDENCE, OFF_SITE_WORK, REFERRAL, TEMPORARY = "21", "22", "23", "29"
FILING_KINDS = {
    LONG_TERM_RESIDENCE: "异地长期居住",
    OFF_SITE_WORK: "常驻异地工作",
    REFERRAL: "异地转诊",
    TEMPORARY: "临时外出就医",
}
# 账户状态 (provident-fund account status).
ACCOUNT_NORMAL, ACCOUNT_SEALED, ACCOUNT_TRANSFERRING, ACCOUNT_CLOSED = "01", "02", "03", "04"
ACCOUNT_STATUSES = {
    ACCOUNT_NORMAL: "正常",
    ACCOUNT_SEALED: "封存",
    ACCOUNT_TRANSFERRING: "转移中",
    ACCOUNT_CLOSED: "已销户",
}
# 转移状态 (provident-fund transfer status).
TRANSFER_ACCEPTED, TRANSFER_PROCESSING, TRANSFER_DONE, TRANSFER_RETURNED = "01", "02", "03", "04"
TRANSFER_STATUSES = {
    TRANSFER_ACCEPTED: "已受理",
    TRANSFER_PROCESSING: "办理中",
    TRANSFER_DONE: "已办结",
    TRANSFER_RETURNED: "已退回",
}
# 缴费状态 of a contribution month.
PAID = "01"
PAYMENT_STATUSES = {PAID: "已实缴"}
# The shares of the base paid for each type (unit, person), as Jiangxi's rules had them.
RATES: dict[str, tuple[Decimal, Decimal]] = {
    PENSION: (Decimal("0.16"), Decimal("0.08")),
    UNEMPLOYMENT: (Decimal("0.005"), Decimal("0.005")),
    EMPLOYEE_MEDICAL: (Decimal("0.075"), Decimal("0.02")),
    INJURY: (Decimal("0.004"), Decimal("0")),
}
CITY_CODES = {"南昌市": "360100", "九江市": "360400", "赣州市": "360700"}
_FIRM_WORDS = ("洪都", "赣江", "庐山", "滕王", "井冈", "章贡", "浔阳", "鄱湖", "红谷", "青山湖")
_FIRM_TRADES = ("电子科技", "建设工程", "物流", "食品", "机械制造", "商贸", "医药", "纺织服装")
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """Yuan with two decimals, as 赣服通 writes amounts."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def ymd(value: date) -> str:
    return value.strftime("%Y%m%d")


def ym(value: date) -> str:
    return value.strftime("%Y%m")


@dataclass(frozen=True, slots=True)
class Insured:
    """A person 赣服通 knows: who worked in Jiangxi from ``since`` to ``until`` (months)."""

    id_number: str
    name: str
    since: date
    until: date
    city: str
    base: int  # monthly contribution base (yuan)
    employer: str
    account: str  # 个人公积金账号
    fund_rate: Decimal  # the unit's and the person's share each

    @property
    def city_code(self) -> str:
        return CITY_CODES.get(self.city, "360100")

    @property
    def fund_centre(self) -> str:
        return f"{self.city}住房公积金管理中心"

    def months(self) -> list[date]:
        """Every month worked, the first day of each."""
        found: list[date] = []
        year, month = self.since.year, self.since.month
        while (year, month) <= (self.until.year, self.until.month):
            found.append(date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found

    @property
    def monthly_deposit(self) -> Decimal:
        """What went into the fund account each month (the unit's and the person's share)."""
        return (Decimal(self.base) * self.fund_rate * 2).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def balance(self) -> Decimal:
        """The deposits, with simple interest of 1.5% a year for the years they lay there."""
        deposits = self.monthly_deposit * len(self.months())
        years = Decimal(2023 - self.since.year)
        return (deposits * (1 + Decimal("0.015") * years / 2)).quantize(CENT)

    @property
    def last_deposit(self) -> date:
        """The 15th of the last month worked (when the last deposit was booked)."""
        return self.until.replace(day=15)


def _rng(seed: int, id_number: str) -> random.Random:
    digest = hashlib.sha256(f"gft|{seed}|{id_number}".encode()).digest()
    return random.Random(digest)  # noqa: S311 - synthetic data


def insured_from(
    seed: int,
    id_number: str,
    name: str,
    since: date,
    until: date,
    city: str,
    base: int,
) -> Insured:
    """An insured person with the employer, account and fund rate drawn for them."""
    rng = _rng(seed, id_number)
    employer = (
        f"{city.removesuffix('市')}{rng.choice(_FIRM_WORDS)}{rng.choice(_FIRM_TRADES)}有限公司"
    )
    account = f"{CITY_CODES.get(city, '360100')[:4]}{rng.randrange(10**10):010d}"
    fund_rate = Decimal(rng.choice(("0.05", "0.08", "0.10", "0.12")))
    return Insured(id_number, name, since, until, city, base, employer, account, fund_rate)


def _from_resident(seed: int, resident: AllianceResident) -> Insured:
    return insured_from(
        seed,
        resident.id_number,
        resident.name,
        resident.since,
        resident.until,
        resident.city,
        resident.base,
    )


@cache
def seeded_people(seed: int = 1) -> Mapping[str, Insured]:
    """The people of ``seed``, by ID number (the alliance residents for Jiangxi)."""
    return {r.id_number: _from_resident(seed, r) for r in alliance_residents(PARTNER_CODE, seed)}


@dataclass(frozen=True, slots=True)
class Contribution:
    """One month of one insurance type."""

    month: date
    kind: str
    base: int
    unit: Decimal
    person: Decimal
    employer: str


def contributions(person: Insured) -> list[Contribution]:
    """Every month worked, each type (pension, unemployment, medical, injury), oldest first."""
    found: list[Contribution] = []
    for month in person.months():
        # The base rose with wages: 6% a year before the last year worked.
        years_before = person.until.year - month.year
        base = int(round(person.base / (1.06**years_before), -1))
        for kind, (unit_rate, person_rate) in RATES.items():
            found.append(
                Contribution(
                    month,
                    kind,
                    base,
                    (Decimal(base) * unit_rate).quantize(CENT, rounding=ROUND_HALF_UP),
                    (Decimal(base) * person_rate).quantize(CENT, rounding=ROUND_HALF_UP),
                    person.employer,
                )
            )
    return found
