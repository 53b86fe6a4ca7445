"""Synthetic, deterministic data of one prefecture: residents and their records.

Everything is drawn from ``random.Random(int(division))``, so two simulators of the same city hold
the same residents and different cities differ. Monthly records (provident fund deposits, social
insurance contributions) are computed on demand up to the day asked for, from per-person figures
fixed at seeding time.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache

from app.core.divisions import Division, divisions
from app.core.identifiers import make_resident_id, make_uscc

RESIDENTS_PER_CITY = 200


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES = (
    "刘李王张陈周彭谭曾罗唐邓胡黄易肖杨吴赵何向欧阳田龙石廖蒋谢郭贺邹"
    "朱许梁宋雷戴段汤文钟姚尹毛颜龚阳康覃"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官")
_GIVEN_MALE = "伟强磊军勇杰涛斌超明刚辉鹏浩宇俊峰建国志文博翔晨凯华林波"
_GIVEN_FEMALE = "芳娟敏静丽艳娜婷雪琳霞燕萍玲倩颖慧佳欣怡红梅兰凤洁璐瑶月"
_PHONE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 173 175 176 177 180 "
    "181 182 183 185 186 187 188 189 191 198 199"
)
_STREETS = _words(
    "人民路 解放路 建设路 五一路 韶山路 芙蓉路 迎宾路 朝阳路 新华路 中山路 光明路 "
    "湘江路 桐梓坡路 八一路 滨江路 育才路 金星路 天马路"
)
_COMPOUNDS = _words(
    "阳光小区 锦绣家园 湘江世纪城 金色华府 翡翠湾 书香苑 和平里 幸福里 碧桂园 华润城 "
    "万科城 枫林苑 丽景湾 紫金园"
)
_FIRM_WORDS = _words(
    "湘江 麓山 星城 华天 远大 金霞 橘洲 新湘 楚天 潇湘 南岭 洞庭 雪峰 岳麓 芙蓉 天成"
)
_INDUSTRIES = _words(
    "科技 建设工程 食品 物流 电子 医药 机械制造 文化传媒 商贸 置业 信息技术 农业开发"
)
_BANKS = _words(
    "中国工商银行 中国建设银行 中国农业银行 中国银行 交通银行 长沙银行 湖南农村信用社 华融湘江银行"
)
# The 31 characters of a credit code, less the digits: letters a new organisation code may use.
_CODE_LETTERS = "ABCDEFGHJKLMNPQRTUWXY"

ESTATE_USAGES = ("住宅", "商业", "办公", "车位")
ESTATE_STATUSES = ("正常", "抵押", "查封")
OWNERSHIPS = ("单独所有", "共同共有", "按份共有")
FUND_STATUSES = ("正常", "封存")
APPLICATION_STATUSES = ("受理", "审核中", "已办结", "不予受理")  # 居住证申领
REGISTRATION_STATUSES = ("已登记",)  # 出生登记


@dataclass(frozen=True, slots=True)
class Employer:
    name: str
    uscc: str
    kind: str


@dataclass(frozen=True, slots=True)
class Resident:
    id_number: str
    name: str
    sex: str
    birth_date: date
    phone: str
    county_code: str
    address: str
    employer: Employer | None
    insured_since: date | None  # first month of social insurance; None: never insured here
    base_2023: int  # contribution base (yuan) in 2023; other years scale from it


@dataclass(frozen=True, slots=True)
class EstateRecord:
    record_id: str
    cert_no: str
    owner_id_number: str
    owner_name: str
    location: str
    usage: str
    floor_area: float
    ownership: str
    registered_on: date
    land_term_end: date
    status: str
    mortgagee: str | None
    mortgage_amount: float | None


@dataclass(frozen=True, slots=True)
class FundAccount:
    account_no: str
    id_number: str
    name: str
    employer: Employer
    opened_on: date
    status: str
    sealed_on: date | None  # 封存: deposits stop the month before
    rate: float  # personal and employer rate (5 % .. 12 %)
    withdrawn_share: float  # share of the deposits withdrawn over the years


@dataclass(frozen=True, slots=True)
class Deposit:
    month: str
    deposited_on: date
    base: float
    personal: float
    employer: float


@dataclass(frozen=True, slots=True)
class Contribution:
    month: str
    insurance: str
    base: float
    personal: float
    employer: float
    payer: str
    status: str


@dataclass(frozen=True, slots=True)
class CityData:
    """The seeded data of one prefecture."""

    division: Division
    short_name: str
    counties: tuple[Division, ...]
    employers: tuple[Employer, ...]
    residents: Mapping[str, Resident]
    estates: Mapping[str, EstateRecord]
    fund_accounts: Mapping[str, FundAccount]


def prefectures() -> tuple[Division, ...]:
    """The 14 prefecture-level divisions of Hunan, by code."""
    return tuple(
        sorted((d for d in divisions().values() if d.level == "prefecture"), key=lambda d: d.code)
    )


def prefecture(code: str) -> Division:
    """The prefecture with this code; ``ValueError`` for anything else."""
    for d in prefectures():
        if d.code == code:
            return d
    raise ValueError(f"{code} is not one of Hunan's 14 prefecture-level divisions")


def short_name(d: Division) -> str:
    """The name used in certificate numbers: 长沙市 stays, 湘西土家族苗族自治州 becomes 湘西州."""
    if d.name.endswith("自治州"):
        return d.name[:2] + "州"
    return d.name


def month_key(day: date) -> str:
    """``YYYY-MM`` of a day."""
    return f"{day.year:04d}-{day.month:02d}"


def months(start: date, end: date) -> Iterator[date]:
    """The first day of every month from ``start``'s month to ``end``'s month, inclusive."""
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def base_in(year: int, base_2023: int) -> float:
    """A contribution base of ``year``, grown or shrunk 5 % a year from its 2023 value."""
    return float(round(base_2023 * 1.05 ** (year - 2023)))


def _money(value: float) -> float:
    return round(value, 2)


# Social insurance rates (employer, personal) of an employee, and of a flexible worker (灵活就业).
_EMPLOYEE_RATES = (
    ("企业职工基本养老保险", 0.16, 0.08),
    ("职工基本医疗保险", 0.08, 0.02),
    ("失业保险", 0.007, 0.003),
    ("工伤保险", 0.005, 0.0),
)
_FLEXIBLE_RATES = (
    ("企业职工基本养老保险", 0.0, 0.20),
    ("职工基本医疗保险", 0.0, 0.08),
)
INSURANCES = tuple(name for name, _, _ in _EMPLOYEE_RATES)
CONTRIBUTION_STATUSES = ("已到账", "已申报")
DEPOSIT_DAY = 15  # deposits and contributions are booked on the 15th
LATEST_START = date(2023, 6, 1)  # the seed is of 2023: nobody starts work after mid-2023


def add_months(day: date, count: int) -> date:
    """The same day ``count`` months later (or earlier), clipped to the month's end."""
    year, month = divmod(day.year * 12 + day.month - 1 + count, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _last_booked(account: FundAccount, today: date) -> date:
    """The last day covered by booked deposits: this month from the 15th, nothing once sealed."""
    last = today if today.day >= DEPOSIT_DAY else _previous_month(today)
    if account.sealed_on is not None:
        last = min(last, _previous_month(account.sealed_on))
    return last


def last_deposit_month(account: FundAccount, today: date) -> str | None:
    """``YYYY-MM`` of the last deposit booked by ``today``, or None."""
    last = _last_booked(account, today)
    return month_key(last) if last >= account.opened_on else None


def deposits(account: FundAccount, resident: Resident, year: int, today: date) -> list[Deposit]:
    """The monthly deposits of ``year`` booked by ``today``."""
    start = max(account.opened_on, date(year, 1, 1))
    end = min(_last_booked(account, today), date(year, 12, 31))
    found: list[Deposit] = []
    for first in months(start, end):
        base = base_in(first.year, resident.base_2023)
        amount = _money(base * account.rate)
        found.append(
            Deposit(month_key(first), first.replace(day=DEPOSIT_DAY), base, amount, amount)
        )
    return found


def fund_balance(account: FundAccount, resident: Resident, today: date) -> float:
    """Deposits to date less the withdrawn share (interest left out)."""
    total = 0.0
    for year in range(account.opened_on.year, today.year + 1):
        total += sum(d.personal + d.employer for d in deposits(account, resident, year, today))
    return _money(total * (1 - account.withdrawn_share))


def contributions(resident: Resident, start: date, end: date, today: date) -> list[Contribution]:
    """Monthly contributions from ``start``'s month to ``end``'s, as booked by ``today``."""
    if resident.insured_since is None:
        return []
    rates = _EMPLOYEE_RATES if resident.employer is not None else _FLEXIBLE_RATES
    payer = resident.employer.name if resident.employer is not None else "灵活就业人员"
    first_month = max(date(start.year, start.month, 1), resident.insured_since)
    last_month = min(date(end.year, end.month, 1), date(today.year, today.month, 1))
    found: list[Contribution] = []
    for first in months(first_month, last_month) if first_month <= last_month else ():
        base = base_in(first.year, resident.base_2023)
        booked = first < date(today.year, today.month, 1) or today.day >= DEPOSIT_DAY
        status = CONTRIBUTION_STATUSES[0] if booked else CONTRIBUTION_STATUSES[1]
        for insurance, employer_rate, personal_rate in rates:
            found.append(
                Contribution(
                    month_key(first),
                    insurance,
                    base,
                    _money(base * personal_rate),
                    _money(base * employer_rate),
                    payer,
                    status,
                )
            )
    return found


def _previous_month(day: date) -> date:
    """The last day of the month before ``day``'s."""
    first = date(day.year, day.month, 1)
    return date.fromordinal(first.toordinal() - 1)


def resident_name(rng: random.Random, sex: str) -> str:
    """A plausible Chinese name."""
    surname = rng.choice(_COMPOUND_SURNAMES) if rng.random() < 0.03 else rng.choice(_SURNAMES)
    pool = _GIVEN_MALE if sex == "男" else _GIVEN_FEMALE
    given = "".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 2))))
    return surname + given


def phone_number(rng: random.Random) -> str:
    """A mainland mobile number."""
    return rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def street_address(rng: random.Random, city: Division, county: Division) -> str:
    """A full street address in ``county``."""
    return (
        f"{city.name}{county.name}{rng.choice(_STREETS)}{rng.randint(1, 399)}号"
        f"{rng.choice(_COMPOUNDS)}{rng.randint(1, 30)}栋"
        f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
    )


def _employers(
    rng: random.Random, city: Division, counties: tuple[Division, ...]
) -> list[Employer]:
    short = city.name.removesuffix("市").removesuffix("土家族苗族自治州")
    found: list[Employer] = []
    names: set[str] = set()
    while len(found) < 16:
        name = f"{short}{rng.choice(_FIRM_WORDS)}{rng.choice(_INDUSTRIES)}有限公司"
        if name in names:
            continue
        names.add(name)
        body = "MA4" + "".join(rng.choice("0123456789" + _CODE_LETTERS) for _ in range(5))
        found.append(Employer(name, make_uscc("91", rng.choice(counties).code, body), "企业"))
    public = (
        (f"{city.name}第一人民医院", "事业单位", "12"),
        (f"{city.name}中心医院", "事业单位", "12"),
        (f"{city.name}第一中学", "事业单位", "12"),
        (f"{city.name}人力资源和社会保障局", "机关", "11"),
        (f"{city.name}住房和城乡建设局", "机关", "11"),
        (f"{city.name}税务局", "机关", "11"),
    )
    for name, kind, prefix in public:
        body = f"{rng.randrange(10**8):08d}"
        found.append(Employer(name, make_uscc(prefix, city.code, body), kind))
    return found


def _resident(
    rng: random.Random,
    city: Division,
    counties: tuple[Division, ...],
    employers: list[Employer],
    taken: set[str],
) -> Resident:
    county = rng.choice(counties)
    while True:
        birth = date.fromordinal(
            rng.randint(date(1950, 1, 1).toordinal(), date(2005, 12, 31).toordinal())
        )
        sequence = rng.randrange(1000)
        id_number = make_resident_id(county.code, birth, sequence)
        if id_number not in taken:
            taken.add(id_number)
            break
    sex = "男" if sequence % 2 else "女"
    employed = birth.year <= 2003 and rng.random() < 0.8
    employer = rng.choice(employers) if employed and rng.random() < 0.85 else None
    insured_since: date | None = None
    if employed:
        first_job = max(date(birth.year + 20, birth.month, 1), date(1995, 1, 1))
        started = date(first_job.year + rng.randint(0, 5), rng.randint(1, 12), 1)
        insured_since = min(started, LATEST_START)
    return Resident(
        id_number=id_number,
        name=resident_name(rng, sex),
        sex=sex,
        birth_date=birth,
        phone=phone_number(rng),
        county_code=county.code,
        address=street_address(rng, city, county),
        employer=employer,
        insured_since=insured_since,
        base_2023=rng.randrange(3000, 25001, 100),
    )


def estate_record(
    rng: random.Random, city: Division, counties: tuple[Division, ...], owner: Resident, serial: int
) -> EstateRecord:
    """One registered property of ``owner``; ``serial`` makes its certificate number."""
    year = rng.randint(2016, 2023)
    usage = rng.choices(ESTATE_USAGES, weights=(70, 10, 8, 12))[0]
    area = {
        "住宅": (45.0, 220.0),
        "商业": (20.0, 300.0),
        "办公": (40.0, 400.0),
        "车位": (10.0, 40.0),
    }
    status = rng.choices(ESTATE_STATUSES, weights=(60, 37, 3))[0]
    registered = date(year, rng.randint(1, 12), rng.randint(1, 28))
    mortgaged = status == "抵押"
    floor_area = round(rng.uniform(*area[usage]), 2)
    county = next((c for c in counties if c.code == owner.county_code), rng.choice(counties))
    return EstateRecord(
        record_id=f"BDC{city.code}-{year}-{serial:07d}",
        cert_no=f"湘({year}){short_name(city)}不动产权第{serial:07d}号",
        owner_id_number=owner.id_number,
        owner_name=owner.name,
        location=street_address(rng, city, county),
        usage=usage,
        floor_area=floor_area,
        ownership=rng.choices(OWNERSHIPS, weights=(60, 35, 5))[0],
        registered_on=registered,
        land_term_end=date(registered.year + (70 if usage == "住宅" else 40), 12, 31),
        status=status,
        mortgagee=rng.choice(_BANKS) if mortgaged else None,
        mortgage_amount=float(rng.randrange(200_000, 2_000_001, 1000)) if mortgaged else None,
    )


def fund_account(
    rng: random.Random, resident: Resident, employer: Employer, number: int
) -> FundAccount:
    """A provident fund account opened when ``resident`` started work."""
    opened = resident.insured_since or date(2015, 1, 1)
    sealed_on: date | None = None
    if rng.random() < 0.1:  # 封存: sealed some months after opening, by the end of 2023
        latest = max((2023 - opened.year) * 12 + 12 - opened.month, 6)
        sealed_on = add_months(opened, rng.randint(6, latest))
    return FundAccount(
        account_no=f"{number:012d}",
        id_number=resident.id_number,
        name=resident.name,
        employer=employer,
        opened_on=opened,
        status=FUND_STATUSES[1] if sealed_on else FUND_STATUSES[0],
        sealed_on=sealed_on,
        rate=rng.choice((0.05, 0.06, 0.08, 0.10, 0.12)),
        withdrawn_share=rng.choice((0.0, 0.0, 0.2, 0.35, 0.5)),
    )


@cache
def city_data(code: str) -> CityData:
    """The seeded data of prefecture ``code`` (computed once per process)."""
    city = prefecture(code)
    counties = tuple(
        d for d in sorted(divisions().values(), key=lambda d: d.code) if d.parent == code
    )
    rng = random.Random(int(code))  # noqa: S311 - synthetic data, seeded on purpose
    employers = _employers(rng, city, counties)
    taken: set[str] = set()
    residents = [
        _resident(rng, city, counties, employers, taken) for _ in range(RESIDENTS_PER_CITY)
    ]
    estates: dict[str, EstateRecord] = {}
    accounts: dict[str, FundAccount] = {}
    serials = iter(rng.sample(range(1, 10**7), RESIDENTS_PER_CITY * 3))
    for index, resident in enumerate(residents):
        if resident.birth_date.year <= 2000 and rng.random() < 0.55:
            for _ in range(rng.choices((1, 2, 3), weights=(70, 25, 5))[0]):
                record = estate_record(rng, city, counties, resident, next(serials))
                estates[record.record_id] = record
        if resident.employer is not None and rng.random() < 0.75:
            number = int(code) * 10**6 + index + 1
            accounts[resident.id_number] = fund_account(rng, resident, resident.employer, number)
    return CityData(
        division=city,
        short_name=short_name(city),
        counties=counties,
        employers=tuple(employers),
        residents={r.id_number: r for r in residents},
        estates=estates,
        fund_accounts=accounts,
    )
