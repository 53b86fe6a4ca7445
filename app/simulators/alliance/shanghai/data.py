"""随申办's data: who it knows, their social-insurance payments and provident-fund accounts, and
its way of writing dates (epoch milliseconds of local midnight, Asia/Shanghai).

Everything is derived from the seed and the resident's ID number (never from a shared store), so
every simulator instance, test and demo agrees on it. Amounts are integers of fen (分): the
partner's own choice, and it keeps sums exact.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache

from app.simulators.alliance.common import AllianceResident, alliance_residents
from app.simulators.city.api import SHANGHAI

PARTNER_CODE = "310000"
CENTER_NAME = "上海市公积金管理中心"
MS_PER_DAY = 86_400_000

# Insurance types as the partner codes them: (code, name, personal rate, employer rate).
INSURANCE_TYPES: tuple[tuple[str, str, float, float], ...] = (
    ("PENSION", "养老保险", 0.08, 0.16),
    ("MEDICAL", "医疗保险", 0.02, 0.10),
    ("UNEMPLOYMENT", "失业保险", 0.005, 0.005),
)
INSURANCE_TYPE_NAMES = {code: name for code, name, _, _ in INSURANCE_TYPES}
# The provident fund's deposit rate, each of employee and employer (上海 7%).
FUND_RATE = 0.07
# Yearly interest credited on a provident-fund balance (1.5%, booked monthly).
FUND_INTEREST = 0.015

# Account statuses: code -> name.
NORMAL, SEALED, TRANSFERRING, CLOSED = "NORMAL", "SEALED", "TRANSFERRING", "CLOSED"
ACCOUNT_STATUSES = {NORMAL: "正常", SEALED: "封存", TRANSFERRING: "转移中", CLOSED: "销户"}

_FIRST = ("浦江", "申城", "外滩", "陆家嘴", "张江", "漕河泾", "虹桥", "静安", "徐汇", "临港")
_TRADE = ("信息技术", "物流", "餐饮管理", "机电设备", "商贸", "建筑工程", "医药", "文化传媒")


# -- dates as epoch milliseconds -----------------------------------------------------------


def date_to_ms(day: date) -> int:
    """Epoch milliseconds of ``day``'s local midnight in Shanghai (UTC+8, no DST)."""
    return int(datetime.combine(day, time(0), SHANGHAI).timestamp()) * 1000


def ms_to_date(ms: int) -> date:
    """The Shanghai date an epoch-milliseconds value falls on."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def is_local_midnight(ms: int) -> bool:
    """Whether ``ms`` is a date as the partner writes it (local midnight, whole milliseconds)."""
    return date_to_ms(ms_to_date(ms)) == ms


def datetime_to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware moment."""
    return int(moment.timestamp() * 1000)


# -- the people the partner knows ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """A resident with a work history in Shanghai: a seeded alliance resident, or one a provider
    state adds (any valid ID number, so contracts need not name a seeded one)."""

    id_number: str
    name: str
    since: date  # first month worked in Shanghai
    until: date  # last month worked there
    base: int  # monthly contribution base in the first year (yuan)

    @classmethod
    def of(cls, resident: AllianceResident) -> Person:
        return cls(resident.id_number, resident.name, resident.since, resident.until, resident.base)


@cache
def seeded_people(seed: int = 1) -> dict[str, Person]:
    """The residents with a history in Shanghai, by ID number."""
    return {r.id_number: Person.of(r) for r in alliance_residents(PARTNER_CODE, seed)}


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return random.Random(digest)  # noqa: S311 - simulated data, not security


def _months(since: date, until: date) -> list[date]:
    found: list[date] = []
    index = since.year * 12 + since.month - 1
    while True:
        month = date(index // 12, index % 12 + 1, 1)
        if month > until:
            return found
        found.append(month)
        index += 1


def _base_fen(person: Person, month: date) -> int:
    """The month's contribution base: the first year's, raised about 5% each year (to 100 yuan)."""
    yuan = person.base * 1.05 ** (month.year - person.since.year)
    return round(yuan / 100) * 100 * 100


def employers(person: Person, seed: int) -> list[tuple[date, str]]:
    """Who employed the person in Shanghai, from which month (one or two employers)."""
    rng = _rng(seed, "employers", person.id_number)
    months = _months(person.since, person.until)
    first = f"上海{rng.choice(_FIRST)}{rng.choice(_TRADE)}有限公司"
    found = [(person.since, first)]
    if len(months) >= 24 and rng.random() < 0.5:
        second = f"上海{rng.choice(_FIRST)}{rng.choice(_TRADE)}股份有限公司"
        found.append((months[rng.randrange(12, len(months) - 6)], second))
    return found


def _employer_in(found: list[tuple[date, str]], month: date) -> str:
    name = found[0][1]
    for since, employer in found:
        if month >= since:
            name = employer
    return name


@dataclass(frozen=True, slots=True)
class Payment:
    """One month's contribution of one insurance type."""

    month: date
    insurance_type: str
    base_fen: int
    personal_fen: int
    employer_fen: int
    employer_name: str

    def as_json(self) -> dict[str, object]:
        return {
            "pay_month": date_to_ms(self.month),
            "insurance_type": self.insurance_type,
            "insurance_type_name": INSURANCE_TYPE_NAMES[self.insurance_type],
            "base_fen": self.base_fen,
            "personal_amount_fen": self.personal_fen,
            "employer_amount_fen": self.employer_fen,
            "employer_name": self.employer_name,
            "pay_status": "PAID",
        }


def payments(person: Person, seed: int) -> list[Payment]:
    """Every contribution the person paid in Shanghai, newest month first, types in a fixed
    order within a month."""
    found = employers(person, seed)
    paid: list[Payment] = []
    for month in reversed(_months(person.since, person.until)):
        base = _base_fen(person, month)
        employer = _employer_in(found, month)
        for code, _, personal, employer_rate in INSURANCE_TYPES:
            paid.append(
                Payment(
                    month, code, base, round(base * personal), round(base * employer_rate), employer
                )
            )
    return paid


# -- provident-fund accounts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """A provident-fund account (公积金账户) at the Shanghai centre."""

    account_no: str
    id_number: str
    name: str
    status: str
    balance_fen: int
    transferring_fen: int
    monthly_deposit_fen: int
    last_deposit: date
    opened: date

    def as_json(self) -> dict[str, object]:
        return {
            "account_no": self.account_no,
            "id_number": self.id_number,
            "name": self.name,
            "status": self.status,
            "status_name": ACCOUNT_STATUSES[self.status],
            "balance_fen": self.balance_fen,
            "transferring_fen": self.transferring_fen,
            "monthly_deposit_fen": self.monthly_deposit_fen,
            "last_deposit_date": date_to_ms(self.last_deposit),
            "opened_date": date_to_ms(self.opened),
            "center_name": CENTER_NAME,
        }


def account_no(person: Person, seed: int) -> str:
    """The account number: 12 digits, deterministic per seed and ID number."""
    digest = hashlib.sha256(f"{seed}|fund|{person.id_number}".encode()).digest()
    return "31" + str(int.from_bytes(digest[:8], "big") % 10**10).zfill(10)


def seeded_account(person: Person, seed: int, today: date) -> Account:
    """The person's account as their deposits left it: sealed (封存) since they left Shanghai,
    or normal while they still work there."""
    balance = 0
    deposit = 0
    months = _months(person.since, person.until)
    for month in months:
        balance += round(balance * FUND_INTEREST / 12)
        deposit = round(_base_fen(person, month) * FUND_RATE) * 2
        balance += deposit
    status = NORMAL if person.until >= date(today.year, today.month, 1) else SEALED
    return Account(
        account_no=account_no(person, seed),
        id_number=person.id_number,
        name=person.name,
        status=status,
        balance_fen=balance,
        transferring_fen=0,
        monthly_deposit_fen=deposit,
        last_deposit=months[-1].replace(day=15),
        opened=person.since,
    )
