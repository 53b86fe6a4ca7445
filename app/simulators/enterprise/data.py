"""The enterprise register's seeded data: enterprises with a legal representative and a status.

Deterministic per seed (the same seed gives the same enterprises, byte for byte): credit codes
that pass GB 32100 and GB 11714, names in the style of Hunan's companies, a legal representative
with a name and a GB 11643 ID number, and a status. Most enterprises are in existence (存续 or
在业); some are deregistered (注销) or had their licence revoked (吊销).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import cache

from app.core.divisions import divisions
from app.core.identifiers import make_resident_id, make_uscc
from app.simulators.city.data import resident_name

ENTERPRISES_PER_SEED = 60
# The statuses the register gives (国家企业信用信息公示系统's words). 存续 and 在业 mean the company
# exists and may act; the others mean it does not any more.
STATUSES = ("存续", "在业", "吊销", "注销", "迁出")
ACTIVE_STATUSES = ("存续", "在业")
# Kinds of enterprise, and the end of the name each kind takes.
KINDS = {
    "有限责任公司": "有限公司",
    "有限责任公司（自然人独资）": "有限公司",
    "股份有限公司": "股份有限公司",
    "个人独资企业": "经营部",
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRM_WORDS = _words(
    "湘江 麓山 星城 华天 远大 金霞 橘洲 新湘 楚天 潇湘 南岭 洞庭 雪峰 岳麓 芙蓉 天成 "
    "韶峰 资江 沅澧 梅溪 紫鹊 崀山 舜德 炎帝"
)
_INDUSTRIES = _words(
    "科技 建设工程 食品 物流 电子 医药 机械制造 文化传媒 商贸 置业 信息技术 农业开发 "
    "新材料 环保工程 餐饮管理 旅游开发"
)
# A new organisation code (GB 11714) after 2015: "MA" and six characters of the credit alphabet.
_ORG_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True, slots=True)
class Enterprise:
    """One enterprise as the register holds it."""

    uscc: str
    name: str
    kind: str
    status: str
    legal_representative: str
    legal_representative_id_number: str
    established_on: date
    registered_capital: int  # 万元
    division: str  # the county (GB/T 2260) where it is registered
    address: str

    def as_json(self, *, id_number: bool = True) -> dict[str, object]:
        """The register's answer for this enterprise (GET /enterprises/{uscc}): with the legal
        representative's ID number for an authenticated consumer, without it for anyone else."""
        representative: dict[str, str] = {"name": self.legal_representative}
        if id_number:
            representative["id_number"] = self.legal_representative_id_number
        return {
            "uscc": self.uscc,
            "name": self.name,
            "type": self.kind,
            "status": self.status,
            "legal_representative": representative,
            "established_on": self.established_on.isoformat(),
            "registered_capital": self.registered_capital,
            "division": self.division,
            "address": self.address,
        }


def _counties() -> list[tuple[str, str, str]]:
    """(county code, county name, prefecture name) of every county of Hunan, in code order."""
    known = divisions()
    found = []
    for code, place in sorted(known.items()):
        if place.level == "county" and place.parent is not None:
            found.append((code, place.name, known[place.parent].name))
    return found


def _short(prefecture: str) -> str:
    return prefecture.removesuffix("市").removesuffix("土家族苗族自治州")


def new_enterprise(rng: random.Random, *, status: str | None = None) -> Enterprise:
    """An enterprise drawn from ``rng`` (a status drawn too unless given)."""
    code, county, prefecture = rng.choice(_counties())
    kind = rng.choice(sorted(KINDS))
    name = f"{_short(prefecture)}{rng.choice(_FIRM_WORDS)}{rng.choice(_INDUSTRIES)}{KINDS[kind]}"
    body = "MA" + "".join(rng.choice(_ORG_CHARACTERS) for _ in range(6))
    sex = rng.choice(("男", "女"))
    born = date(rng.randint(1960, 1998), rng.randint(1, 12), rng.randint(1, 28))
    sequence = rng.randrange(0, 1000, 2) + (1 if sex == "男" else 0)
    if status is None:
        status = rng.choices(STATUSES, weights=(70, 15, 6, 6, 3))[0]
    return Enterprise(
        uscc=make_uscc("91", code, body),
        name=name,
        kind=kind,
        status=status,
        legal_representative=resident_name(rng, sex),
        legal_representative_id_number=make_resident_id(code, born, min(sequence, 999)),
        established_on=date(rng.randint(2000, 2023), rng.randint(1, 12), rng.randint(1, 28)),
        registered_capital=rng.choice((10, 50, 100, 200, 500, 1000, 3000, 5000)),
        division=code,
        address=f"{prefecture}{county}{rng.choice(('人民路', '解放路', '建设路', '芙蓉路'))}"
        f"{rng.randint(1, 999)}号",
    )


@cache
def seeded_enterprises(seed: int = 1) -> tuple[Enterprise, ...]:
    """The enterprises of ``seed``, by credit code (unique), the first one in existence."""
    rng = random.Random(f"enterprise-register|{seed}")  # noqa: S311 - synthetic data
    found: dict[str, Enterprise] = {}
    while len(found) < ENTERPRISES_PER_SEED:
        enterprise = new_enterprise(rng, status="存续" if not found else None)
        found.setdefault(enterprise.uscc, enterprise)
    return tuple(found.values())
