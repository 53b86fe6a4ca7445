"""The request examples of a city's document: people of the city's own seed, so that a request
built from the examples is one the city accepts.

An example is a promise too: example-based tests (Schemathesis' examples phase, client
generators, a developer trying the documented request) send it as it is. So each request body
of a city's document carries one complete example that keeps the rules the document states in
words (a parent living in the city, the mother's ID number with an even sex digit and the
father's with an odd one, six months of residence, an employer when the reason is work).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from app.core.identifiers import make_resident_id
from app.simulators.city import data as d

__all__ = [
    "birth_registration_example",
    "estate_record_example",
    "residence_permit_example",
    "resident_example",
]


@cache
def resident_example(division: str) -> str:
    """The ID number of a resident with real-estate records, an open provident fund account and
    social insurance since 2021: every query by ID number finds something."""
    seed = d.city_data(division)
    owners = {record.owner_id_number for record in seed.estates.values()}
    return next(
        r.id_number
        for r in seed.residents.values()
        if r.id_number in owners
        and (account := seed.fund_accounts.get(r.id_number)) is not None
        and account.status == d.FUND_STATUSES[0]
        and r.insured_since is not None
        and r.insured_since <= date(2021, 12, 1)
    )


@cache
def estate_record_example(division: str) -> str:
    """The record id of one of the example resident's real-estate records."""
    owner = resident_example(division)
    return next(
        record.record_id
        for record in d.city_data(division).estates.values()
        if record.owner_id_number == owner
    )


@cache
def birth_registration_example(division: str) -> dict[str, str]:
    """A birth registration form: both parents residents of the city, mother and father by sex."""
    seed = d.city_data(division)
    city = d.prefecture(division)
    residents = list(seed.residents.values())
    mother = next(r for r in residents if r.sex == "女" and 1985 <= r.birth_date.year <= 1998)
    father = next(r for r in residents if r.sex == "男" and 1983 <= r.birth_date.year <= 1996)
    return {
        "baby_name": father.name[0] + "思远",
        "sex": "男",
        "birth_date": "2023-10-08",
        "mother_id_number": mother.id_number,
        "father_id_number": father.id_number,
        "hospital": f"{city.name}妇幼保健院",
        "birth_certificate_no": f"R{division[:4]}00123",
    }


@cache
def residence_permit_example(division: str) -> dict[str, Any]:
    """A residence permit application: someone from elsewhere, working in the city since 2022."""
    seed = d.city_data(division)
    city = d.prefecture(division)
    return {
        "applicant_name": "刘晓燕",
        # Residence permits are for people from elsewhere: a resident of 南昌市东湖区 (Jiangxi).
        "id_number": make_resident_id("360102", date(1994, 5, 20), 246),
        "phone": "13807310001",
        "address": f"{city.name}{seed.counties[0].name}人民路88号和顺小区3栋1202室",
        "reason": "就业",
        "residence_since": "2022-03-01",
        "employer_name": seed.employers[0].name,
    }
