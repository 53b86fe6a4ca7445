"""The registry's seeded data: the licenses of the synthetic people and firms.

Deterministic per seed (the same seed gives the same licenses): the holders are the residents
of the 14 city simulators (``app.simulators.city.data``), the firms among their employers and
the enterprises of the market-supervision register (``app.simulators.enterprise.data``, same
seed). Every license has a valid GB/T 36904 identifier (check character computed by
``app.core.identifiers.make_license_id``), an issuer (a division code or an organ's credit code),
validity dates, a status and the data items of its type.

A person holds a 居民身份证 and a 居民户口簿; most insured workers a 社会保障卡; some a
机动车驾驶证, a 结婚证, a 学位证书 or a 出生医学证明; every property record of the cities is a
不动产权证书. A firm holds a 营业执照 (注销 when the firm no longer exists) and, in the food
trades, a 食品经营许可证. Some licenses are past their end date (过期) and a few were revoked
(注销). Issuing organs are named after the type's department and the holder's county; their
credit codes are synthetic (valid GB 32100 codes, not the real organs').
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache

from app.core.divisions import Division, divisions
from app.core.identifiers import make_license_id, make_resident_id, make_uscc
from app.simulators.city.data import CityData, Resident, city_data, prefectures, resident_name
from app.simulators.elicense.types import RegistryType, registry_types, type_named
from app.simulators.enterprise.data import Enterprise, seeded_enterprises

# Status codes (证照状态), the registry's words.
VALID, REVOKED, EXPIRED = "01", "02", "03"
STATUSES = {VALID: "有效", REVOKED: "注销", EXPIRED: "过期"}
# Holder code kinds (持证主体代码类型): GA/T 517's 居民身份证 and the unified social credit code.
ID_CARD, CREDIT_CODE = "111", "001"
INDEFINITE = "长期"
# Licenses are seeded as of this day (the city simulators' data is of 2023); what ends before the
# registry's today is 过期 then.
SEEDED_ON = date(2023, 11, 20)
ETHNICITIES = ("汉", "汉", "汉", "汉", "汉", "汉", "汉", "土家", "苗", "侗", "瑶", "白", "回")
# Universities that award degrees (学位证书), with the division of their seat; their credit codes
# are synthetic (``organ_credit_code``), not the real ones.
UNIVERSITIES = (
    ("中南大学", "430100"),
    ("湖南大学", "430100"),
    ("湖南师范大学", "430100"),
    ("湘潭大学", "430300"),
    ("长沙理工大学", "430100"),
)
DEGREES = ("学士", "学士", "学士", "硕士", "博士")
DISCIPLINES = ("工学", "理学", "管理学", "经济学", "法学", "文学", "医学", "教育学")
BUSINESS_SCOPES = (
    "一般项目：技术服务、技术开发、技术咨询；软件开发；信息系统集成服务",
    "一般项目：建设工程施工；园林绿化工程施工；建筑材料销售",
    "许可项目：食品销售；餐饮服务。一般项目：日用百货销售",
    "一般项目：普通货物仓储服务；国内货物运输代理；装卸搬运",
    "一般项目：农产品的生产、销售、加工、运输、贮藏及其他相关服务",
)
FOOD_ITEMS = (
    "预包装食品（含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售",
    "热食类食品制售；冷食类食品制售",
    "预包装食品（不含冷藏冷冻食品）销售；保健食品销售",
)


def _ymd(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


@dataclass(frozen=True, slots=True)
class License:
    """One license as the registry holds it."""

    identifier: str  # zzbs
    type_code: str  # zzlxdm
    number: str  # zzbh
    version: str  # bbh
    holder_name: str  # czzt
    holder_code: str  # czztdm
    holder_code_kind: str  # czztdmlx: 111 or 001
    issuer: str  # bfjg
    issuer_code: str  # bfjgdm
    issued_on: date  # bfrq
    valid_from: date  # yxqq
    valid_until: date | None  # yxqz (None: 长期)
    data: Mapping[str, str] = field(default_factory=dict)  # zzsj
    revoked_on: date | None = None  # zxrq
    revoke_reason: str | None = None  # zxyy

    def status(self, today: date) -> str:
        """01 有效, 02 注销, 03 过期 (the day after ``valid_until``)."""
        if self.revoked_on is not None:
            return REVOKED
        if self.valid_until is not None and self.valid_until < today:
            return EXPIRED
        return VALID

    def as_json(self, today: date, *, data: bool) -> dict[str, object]:
        """The registry's answer: the summary, with ``zzsj`` (the data items) when ``data``."""
        kind = registry_types()[self.type_code]
        answer: dict[str, object] = {
            "zzbs": self.identifier,
            "zzlxdm": self.type_code,
            "zzlxmc": kind.name,
            "zzbh": self.number,
            "bbh": self.version,
            "czzt": self.holder_name,
            "czztdm": self.holder_code,
            "czztdmlx": self.holder_code_kind,
            "bfjg": self.issuer,
            "bfjgdm": self.issuer_code,
            "bfrq": _ymd(self.issued_on),
            "yxqq": _ymd(self.valid_from),
            "yxqz": INDEFINITE if self.valid_until is None else _ymd(self.valid_until),
            "zzzt": self.status(today),
            "kxdj": kind.trust_level,
        }
        if self.revoked_on is not None:
            answer["zxrq"] = _ymd(self.revoked_on)
            answer["zxyy"] = self.revoke_reason or ""
        if data:
            answer["zzsj"] = dict(self.data)
        return answer


# -- issuers -----------------------------------------------------------------------------------

# The local organ that issues a ministry's licenses, by a word of the ministry's name.
_LOCAL_ORGANS = (
    ("公安", "公安局"),
    ("市场监", "市场监督管理局"),
    ("民政", "民政局"),
    ("自然资源", "自然资源和规划局"),
    ("人力资源", "人力资源和社会保障局"),
    ("人社", "人力资源和社会保障局"),
    ("卫生", "卫生健康委员会"),
    ("卫健", "卫生健康委员会"),
    ("教育", "教育局"),
    ("住房", "住房和城乡建设局"),
    ("交通", "交通运输局"),
    ("农业", "农业农村局"),
    ("生态环境", "生态环境局"),
    ("文化", "文化旅游广电局"),
    ("税务", "税务局"),
)


def local_organ(place: Division, department: str) -> str:
    """The organ of ``place`` that issues ``department``'s licenses (e.g. 长沙市市场监督管理局)."""
    for word, organ in _LOCAL_ORGANS:
        if word in department:
            return f"{place.name}{organ}"
    return f"{place.name}{department.removesuffix('部').removesuffix('总局')}主管部门"


def organ_credit_code(division: str, organ: str, category: str = "11") -> str:
    """A synthetic GB 32100 credit code for an organ (11 机关, 12 事业单位), the same every time."""
    digest = hashlib.sha256(organ.encode("utf-8")).digest()
    body = "".join(str(b % 10) for b in digest[:8])
    return make_uscc(category, division, body)


def issuer_of(place: Division, department: str, rng: random.Random) -> tuple[str, str]:
    """(issuing organ, issuer code): the organ's credit code or the division code, as real
    identifiers have either."""
    organ = local_organ(place, department)
    code = organ_credit_code(place.code, organ) if rng.random() < 0.5 else place.code
    return organ, code


# -- data items --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """What the data items of a license are drawn from."""

    name: str
    code: str
    kind: str  # ID_CARD or CREDIT_CODE
    place: Division  # where it lives or is registered (a county)
    sex: str = ""
    birth_date: date | None = None
    address: str = ""
    representative: str = ""
    firm_kind: str = ""
    capital: int = 0


def _relative(rng: random.Random, holder: Holder, sex: str, years_older: int) -> tuple[str, str]:
    """(name, ID number) of a relative drawn for a holder (a spouse, a parent)."""
    born = (holder.birth_date or date(1980, 1, 1)) - timedelta(days=365 * years_older)
    born = born + timedelta(days=rng.randint(-900, 900))
    sequence = rng.randrange(0, 1000, 2) + (1 if sex == "男" else 0)
    return resident_name(rng, sex), make_resident_id(holder.place.code, born, min(sequence, 999))


def _ethnicity(id_number: str) -> str:
    """The person's ethnicity, the same on every license."""
    return random.Random(f"ethnicity|{id_number}").choice(ETHNICITIES)  # noqa: S311


def _person_values(holder: Holder, license: License, rng: random.Random) -> dict[str, str]:
    other = "女" if holder.sex == "男" else "男"
    spouse, spouse_id = _relative(rng, holder, other, rng.randint(-3, 3))
    mother, mother_id = _relative(rng, holder, "女", rng.randint(24, 32))
    father, father_id = _relative(rng, holder, "男", rng.randint(25, 34))
    university = rng.choice(UNIVERSITIES)[0]
    return {
        "name": holder.name,
        "holder_name": holder.name,
        "child_name": holder.name,
        "sex": holder.sex,
        "id_number": holder.code,
        "holder_id_number": holder.code,
        "birth_date": _ymd(holder.birth_date) if holder.birth_date else "",
        "birth_place": holder.place.name,
        "address": holder.address,
        "residence_address": holder.address,
        "ethnicity": _ethnicity(holder.code),
        "nationality": "中国",
        "household_number": f"{rng.randrange(10**9):09d}",
        "household_type": rng.choice(("家庭户", "家庭户", "集体户")),
        "head_of_household": holder.name,
        "relation_to_head": "户主",
        "card_number": f"{holder.place.code[:2]}{rng.randrange(10**7):07d}",
        "first_issue_date": _ymd(license.issued_on),
        "license_class": rng.choice(("C1", "C1", "C2", "B2", "A1")),
        "file_number": f"{holder.place.code[:4]}{rng.randrange(10**8):08d}",
        "spouse_name": spouse,
        "spouse_id_number": spouse_id,
        "registration_date": _ymd(license.issued_on),
        "university": university,
        "degree": rng.choice(DEGREES),
        "discipline": rng.choice(DISCIPLINES),
        "award_date": _ymd(license.issued_on),
        "gestational_weeks": str(rng.randint(37, 41)),
        "birth_weight_g": str(rng.randrange(2600, 4200, 10)),
        "mother_name": mother,
        "mother_id_number": mother_id,
        "father_name": father,
        "father_id_number": father_id,
    }


def _firm_values(holder: Holder, license: License, rng: random.Random) -> dict[str, str]:
    return {
        "entity_name": holder.name,
        "credit_code": holder.code,
        "entity_type": holder.firm_kind,
        "legal_representative": holder.representative,
        "address": holder.address,
        "registered_capital": f"{holder.capital}万元人民币" if holder.capital else "",
        "established_date": _ymd(license.valid_from),
        "business_term": INDEFINITE,
        "business_scope": rng.choice(BUSINESS_SCOPES),
        "registration_authority": license.issuer,
        "business_place": holder.address,
        "main_business": rng.choice(("食品销售经营者", "餐饮服务经营者")),
        "business_items": rng.choice(FOOD_ITEMS),
    }


def field_value(
    name: str, kind: str, values: Mapping[str, str], license: License, rng: random.Random
) -> str:
    """A value of data item ``name`` (of type ``kind``): a known one, else one of the type."""
    known = {
        "valid_from": _ymd(license.valid_from),
        "valid_until": INDEFINITE if license.valid_until is None else _ymd(license.valid_until),
        "issue_date": _ymd(license.issued_on),
        "issuer": license.issuer,
        "license_number": license.number,
        "certificate_number": license.number,
        "proof_number": license.number,
        "record_number": license.number,
        **values,
    }
    value = known.get(name)
    if value:
        return value
    if kind == "date":
        return _ymd(license.issued_on)
    if kind == "integer":
        return str(rng.randint(1, 999))
    if kind == "decimal":
        return f"{rng.uniform(10, 500):.2f}"
    if kind == "boolean":
        return rng.choice(("是", "否"))
    if name == "level":
        return rng.choice(("一级", "二级", "三级"))
    return f"{license.issuer}核定（{rng.randint(1, 9999):04d}）"


def with_fields(
    license: License, kind: RegistryType, holder: Holder, extra: Mapping[str, str] | None = None
) -> License:
    """``license`` with every data item of its type filled in, deterministically."""
    rng = random.Random(f"fields|{license.identifier}")  # noqa: S311 - synthetic data
    drawn = _person_values if holder.kind == ID_CARD else _firm_values
    values = {**drawn(holder, license, rng), **(extra or {})}
    data = {f.name: field_value(f.name, f.kind, values, license, rng) for f in kind.fields}
    return replace(license, data=data)


# -- seeding -----------------------------------------------------------------------------------


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _id_card_term(birth: date, issued: date) -> date | None:
    """《居民身份证法》第五条: 5 years under 16, 10 to 25, 20 to 45, 长期 from 46."""
    age = issued.year - birth.year - ((issued.month, issued.day) < (birth.month, birth.day))
    if age >= 46:
        return None
    return _years_later(issued, 5 if age < 16 else 10 if age <= 25 else 20)


def _day_between(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return date.fromordinal(rng.randint(start.toordinal(), end.toordinal()))


class _Builder:
    """Accumulates the seeded licenses: unique identifiers, a per-type serial for numbers."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.found: dict[str, License] = {}
        self.serials: dict[str, int] = {}

    def number(self, kind: RegistryType, place: Division, year: int) -> str:
        serial = self.serials.get(kind.code, 0) + 1
        self.serials[kind.code] = serial
        return f"{place.code}{year:04d}{serial:06d}"

    def add(
        self,
        kind: RegistryType | None,
        holder: Holder,
        rng: random.Random,
        *,
        issued: date,
        until: date | None,
        number: str | None = None,
        place: Division | None = None,
        issuer: tuple[str, str] | None = None,
        revoked: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """A license of ``kind`` (nothing when the catalogue has no such type)."""
        if kind is None:
            return
        where = place or holder.place
        number = number or self.number(kind, where, issued.year)
        revoked_on = None
        if revoked:
            revoked_on = _day_between(rng, issued, min(SEEDED_ON, until or SEEDED_ON))
        license = new_license(
            kind,
            holder,
            rng,
            issued=issued,
            until=until,
            number=number,
            issuer=issuer or issuer_of(where, kind.department, rng),
            revoked_on=revoked_on,
            extra=extra,
        )
        self.found.setdefault(license.identifier, license)


def new_license(
    kind: RegistryType,
    holder: Holder,
    rng: random.Random,
    *,
    issued: date,
    until: date | None,
    number: str,
    issuer: tuple[str, str],
    version: str = "001",
    revoked_on: date | None = None,
    extra: Mapping[str, str] | None = None,
) -> License:
    """A license of ``kind`` for ``holder`` by ``issuer`` (organ, issuer code), its identifier
    computed and its data items drawn (``extra`` gives some)."""
    organ, issuer_code = issuer
    license = License(
        identifier=make_license_id(kind.code, issuer_code, number, version),
        type_code=kind.code,
        number=number.upper(),
        version=version,
        holder_name=holder.name,
        holder_code=holder.code,
        holder_code_kind=holder.kind,
        issuer=organ,
        issuer_code=issuer_code.upper(),
        issued_on=issued,
        valid_from=issued,
        valid_until=until,
        revoked_on=revoked_on,
        revoke_reason="依申请注销" if revoked_on is not None else None,
    )
    return with_fields(license, kind, holder, extra)


def person_holder(resident: Resident) -> Holder:
    """A city resident as a holder."""
    return Holder(
        name=resident.name,
        code=resident.id_number,
        kind=ID_CARD,
        place=divisions()[resident.county_code],
        sex=resident.sex,
        birth_date=resident.birth_date,
        address=resident.address,
    )


def firm_holder(enterprise: Enterprise) -> Holder:
    """An enterprise as a holder."""
    return Holder(
        name=enterprise.name,
        code=enterprise.uscc,
        kind=CREDIT_CODE,
        place=divisions()[enterprise.division],
        address=enterprise.address,
        representative=enterprise.legal_representative,
        firm_kind=enterprise.kind,
        capital=enterprise.registered_capital,
    )


def _resident_licenses(build: _Builder, city: CityData, resident: Resident) -> None:
    rng = random.Random(f"elicense|{build.seed}|{resident.id_number}")  # noqa: S311
    holder = person_holder(resident)
    birth = resident.birth_date
    # 居民身份证: its number is the ID number; some terms ended before today (过期).
    issued = _day_between(rng, max(_years_later(birth, 16), date(2004, 1, 1)), SEEDED_ON)
    card = type_named("居民身份证")
    build.add(
        card,
        holder,
        rng,
        issued=issued,
        until=_id_card_term(birth, issued),
        number=resident.id_number,
    )
    issued = _day_between(rng, max(birth, date(2000, 1, 1)), SEEDED_ON)
    build.add(type_named("居民户口簿"), holder, rng, issued=issued, until=None)
    if resident.insured_since is not None and rng.random() < 0.9:
        issued = _day_between(rng, max(resident.insured_since, date(2014, 1, 1)), SEEDED_ON)
        until = _years_later(issued, 10)
        build.add(type_named("社会保障卡"), holder, rng, issued=issued, until=until)
    adult = _years_later(birth, 18)
    if rng.random() < 0.45 and adult < SEEDED_ON:
        issued = _day_between(rng, max(adult, date(2010, 1, 1)), SEEDED_ON)
        until = _years_later(issued, rng.choice((6, 6, 10)))
        build.add(type_named("机动车驾驶证"), holder, rng, issued=issued, until=until)
    if rng.random() < 0.5 and birth.year <= 1998:
        issued = _day_between(rng, max(_years_later(birth, 22), date(2005, 1, 1)), SEEDED_ON)
        divorced = rng.random() < 0.08
        build.add(type_named("结婚证"), holder, rng, issued=issued, until=None, revoked=divorced)
    if rng.random() < 0.25 and birth.year <= 2001:
        graduated = date(birth.year + 22, 6, 30)
        university, seat = rng.choice(UNIVERSITIES)
        number = f"{rng.randrange(10**4, 10**5)}{graduated.year:04d}{rng.randrange(10**6):06d}"
        build.add(
            type_named("学位证书"),
            holder,
            rng,
            issued=graduated,
            until=None,
            number=number,
            issuer=(university, organ_credit_code(seat, university, "12")),
            extra={"university": university},
        )
    if birth.year >= 1996:
        issued = birth + timedelta(days=rng.randint(1, 20))
        build.add(type_named("出生医学证明"), holder, rng, issued=issued, until=None)
    for estate in city.estates.values():
        if estate.owner_id_number != resident.id_number:
            continue
        year, serial = estate.record_id[-12:-8], estate.record_id[-7:]
        build.add(
            type_named("不动产权证书"),
            holder,
            rng,
            issued=estate.registered_on,
            until=None,
            number=f"{city.division.code}{year}{serial}",
            place=city.division,
            revoked=rng.random() < 0.03,
            extra={
                "property_unit_number": f"{holder.place.code}{rng.randrange(10**6):06d}GB"
                f"{rng.randrange(10**5):05d}F{rng.randrange(10**8):08d}",
                "location": estate.location,
                "right_type": "国有建设用地使用权/房屋所有权",
                "use": estate.usage,
                "area_m2": f"{estate.floor_area:.2f}",
                "share": estate.ownership,
            },
        )


def _firm_licenses(build: _Builder, enterprise: Enterprise) -> None:
    rng = random.Random(f"elicense|{build.seed}|{enterprise.uscc}")  # noqa: S311
    holder = firm_holder(enterprise)
    gone = enterprise.status not in ("存续", "在业")
    issued = max(enterprise.established_on, date(2015, 10, 1))  # 三证合一 licenses from 2015
    build.add(
        type_named("营业执照"),
        holder,
        rng,
        issued=issued,
        until=None,
        number=enterprise.uscc,
        revoked=gone,
        extra={"established_date": _ymd(enterprise.established_on)},
    )
    if any(word in enterprise.name for word in ("食品", "餐饮")):
        issued = _day_between(rng, max(issued, date(2016, 1, 1)), SEEDED_ON)
        until = _years_later(issued, 5) - timedelta(days=1)
        kind = type_named("食品经营许可证")
        build.add(kind, holder, rng, issued=issued, until=until, revoked=gone)


def _employers(seed: int) -> Iterator[Enterprise]:
    """The cities' employer firms as the registry knows them (the rest drawn per firm)."""
    for city in prefectures():
        for employer in city_data(city.code).employers:
            if employer.kind != "企业":
                continue
            rng = random.Random(f"employer|{seed}|{employer.uscc}")  # noqa: S311
            county = divisions().get(employer.uscc[2:8], city)
            yield Enterprise(
                uscc=employer.uscc,
                name=employer.name,
                kind="有限责任公司",
                status="存续",
                legal_representative=resident_name(rng, rng.choice(("男", "女"))),
                legal_representative_id_number="",
                established_on=date(rng.randint(2005, 2020), rng.randint(1, 12), 1),
                registered_capital=rng.choice((100, 500, 1000, 5000)),
                division=county.code,
                address=f"{city.name}{county.name if county is not city else ''}"
                f"{rng.choice(('人民路', '解放路', '建设路', '芙蓉路'))}{rng.randint(1, 399)}号",
            )


@cache
def seeded_licenses(seed: int = 1) -> tuple[License, ...]:
    """Every seeded license of ``seed``: the cities' residents', then the firms'."""
    build = _Builder(seed)
    for city in prefectures():
        data = city_data(city.code)
        for resident in data.residents.values():
            _resident_licenses(build, data, resident)
    seen: set[str] = set()
    for enterprise in (*seeded_enterprises(seed), *_employers(seed)):
        if enterprise.uscc not in seen:
            seen.add(enterprise.uscc)
            _firm_licenses(build, enterprise)
    return tuple(build.found.values())
