"""What 粤省事 knows of a Hunan resident who once worked in Guangdong: their insurance there
(the monthly contributions of their work period) and their provident-fund account, derived
from ``common.alliance_residents`` so every run with the same seed holds the same data.

Filings and transfers are not here: they start empty and live in the app's state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from app.core.divisions import divisions
from app.simulators.alliance.common import AllianceResident, alliance_residents
from app.simulators.city.data import city_data, resident_name

PARTNER = "440000"
CITIES = ("广州市", "深圳市", "东莞市", "佛山市")
DEPOSIT_DAY = 10  # Guangdong's centres book contributions and deposits on the 10th
# Social insurance as Guangdong's records name it: the national 险种 code, its name, and the
# employer's and the employee's rates.
INSURANCES = (
    ("110", "企业职工基本养老保险", 0.14, 0.08),
    ("310", "职工基本医疗保险", 0.055, 0.02),
    ("210", "失业保险", 0.008, 0.002),
    ("410", "工伤保险", 0.004, 0.0),
)
_FIRM_WORDS = ("粤海", "珠江", "南粤", "岭南", "白云", "鹏城", "莞邦", "禅城", "华南", "越秀")
_INDUSTRIES = ("电子科技", "物流", "制造", "贸易", "信息技术", "建设工程", "餐饮管理", "服装")


@dataclass(frozen=True, slots=True)
class FundAccount:
    """A provident-fund account at the city's centre, sealed (封存) since they left."""

    account_no: str
    opened: date
    rate: float  # employer and employee each
    withdrawn_share: float  # of the deposits, withdrawn while they worked there


@dataclass(frozen=True, slots=True)
class Insured:
    """A resident insured in Guangdong from ``since`` to ``until`` (both first of a month)."""

    id_number: str
    name: str
    city: str
    since: date
    until: date
    base: int  # monthly contribution base in the last year there (yuan)
    employer: str
    fund: FundAccount | None

    @property
    def fund_centre(self) -> str:
        return f"{self.city[:-1]}住房公积金管理中心"


@dataclass(frozen=True, slots=True)
class Contribution:
    month: date  # first of the month
    code: str
    insurance: str
    base: float
    personal: float
    employer: float


def _money(value: float) -> float:
    return round(value + 1e-9, 2)


def base_in(insured: Insured, year: int) -> float:
    """The base of ``year``: 5 % a year less for each year before the last one there."""
    return float(round(insured.base * 1.05 ** (year - insured.until.year)))


def months(insured: Insured) -> list[date]:
    """The first of every month worked there, oldest first."""
    found: list[date] = []
    year, month = insured.since.year, insured.since.month
    while (year, month) <= (insured.until.year, insured.until.month):
        found.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def contributions(insured: Insured) -> list[Contribution]:
    """Every month's contributions, by month then 险种 (in the order of ``INSURANCES``)."""
    found: list[Contribution] = []
    for first in months(insured):
        base = base_in(insured, first.year)
        for code, name, employer_rate, personal_rate in INSURANCES:
            found.append(
                Contribution(
                    first,
                    code,
                    name,
                    base,
                    _money(base * personal_rate),
                    _money(base * employer_rate),
                )
            )
    return found


def monthly_deposit(insured: Insured, year: int) -> float:
    """The deposit of one month of ``year`` (employer and employee together)."""
    assert insured.fund is not None
    return _money(base_in(insured, year) * insured.fund.rate) * 2


def fund_balance(insured: Insured) -> float:
    """The deposits of the work period less the share withdrawn (interest left out)."""
    if insured.fund is None:
        return 0.0
    total = sum(monthly_deposit(insured, first.year) for first in months(insured))
    return _money(total * (1 - insured.fund.withdrawn_share))


def _insured(
    rng: random.Random,
    id_number: str,
    name: str,
    city: str,
    since: date,
    until: date,
    base: int,
    fund_chance: float = 0.85,
) -> Insured:
    employer = f"{city[:2]}{rng.choice(_FIRM_WORDS)}{rng.choice(_INDUSTRIES)}有限公司"
    fund: FundAccount | None = None
    if rng.random() < fund_chance:  # not every employer paid into a provident fund
        fund = FundAccount(
            account_no=f"44{rng.randrange(10**12):012d}",
            opened=since,
            rate=rng.choice((0.05, 0.07, 0.10, 0.12)),
            withdrawn_share=rng.choice((0.0, 0.0, 0.2, 0.5)),
        )
    return Insured(id_number, name, city, since, until, base, employer, fund)


def insured_from(resident: AllianceResident, seed: int) -> Insured:
    """The resident as Guangdong's systems hold them."""
    rng = random.Random(f"guangdong|{seed}|{resident.id_number}")  # noqa: S311 - synthetic data
    return _insured(
        rng,
        resident.id_number,
        resident.name,
        resident.city,
        resident.since,
        resident.until,
        resident.base,
    )


def known_name(id_number: str) -> str | None:
    """The name the city simulators give this ID number, if one of them seeds it."""
    city = divisions().get(id_number[:4] + "00")
    if city is None or city.level != "prefecture":
        return None
    resident = city_data(city.code).residents.get(id_number)
    return resident.name if resident is not None else None


def made_up(id_number: str, seed: int, name: str | None = None) -> Insured:
    """Someone insured in Guangdong for a provider state, deterministic per ID number."""
    rng = random.Random(f"guangdong|made-up|{seed}|{id_number}")  # noqa: S311 - synthetic data
    sex = "男" if int(id_number[16]) % 2 else "女"
    name = name or known_name(id_number) or resident_name(rng, sex)
    since = date(rng.randint(2012, 2017), rng.randint(1, 12), 1)
    count = rng.randint(24, 60)
    index = since.year * 12 + since.month - 1 + count
    until = date(index // 12, index % 12 + 1, 1)
    base = rng.randrange(5000, 20001, 100)
    # A made-up resident is there to show everything: they have an account.
    return _insured(rng, id_number, name, rng.choice(CITIES), since, until, base, 1.0)


def seeded_insured(seed: int = 1) -> dict[str, Insured]:
    """Everyone with a history in Guangdong, by ID number."""
    return {r.id_number: insured_from(r, seed) for r in alliance_residents(PARTNER, seed)}
