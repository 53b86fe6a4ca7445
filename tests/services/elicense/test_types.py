"""The packaged e-license types: enough of them, each well-formed, the named ones where they
belong, and the file exactly what ``scripts/generate_license_types.py`` writes."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from app.core.identifiers import is_valid_uscc, make_license_id, validate_license_id
from app.services.elicense.types import (
    LicenseType,
    license_type,
    license_types,
    license_types_named,
    parse_fields,
    parse_license_types,
)

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "generate_license_types.py"
HEADER = "code,name,department,department_code,code_source,scope,holder,trust_level,fields\n"
ROW = (
    "11100000000013338W032,建筑施工特种作业人员操作资格证书,住房和城乡建设部,11100000000013338W,"
    "real,national,person,B,holder_name:string;issue_date:date\n"
)


def _types() -> list[LicenseType]:
    return list(license_types().values())


def test_there_are_at_least_220_types_with_unique_codes() -> None:
    types = _types()
    assert len(types) >= 220
    assert len({t.code for t in types}) == len(types)
    assert len({(t.department, t.name) for t in types}) == len(types)


def test_every_code_is_a_valid_credit_code_and_a_3_digit_serial() -> None:
    for t in _types():
        assert len(t.code) == 21, t
        assert t.code[:18] == t.department_code
        assert is_valid_uscc(t.department_code), t
        assert re.fullmatch(r"\d{3}", t.serial), t
        # ... so it makes valid e-license identifiers
        assert validate_license_id(make_license_id(t.code, "430100", "2026000001")) == []


def test_every_department_is_named_and_has_one_code() -> None:
    codes: dict[str, set[str]] = {}
    for t in _types():
        assert t.department.strip(), t
        assert t.name.strip(), t
        codes.setdefault(t.department, set()).add(t.department_code)
    assert all(len(found) == 1 for found in codes.values()), codes
    assert len({next(iter(c)) for c in codes.values()}) == len(codes)  # no two share a code


def test_fields_are_well_formed() -> None:
    for t in _types():
        assert t.fields, t
        names = t.field_names
        assert len(set(names)) == len(names), t
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names), t
        assert {f.type for f in t.fields} <= {"string", "date", "integer", "decimal", "boolean"}


def test_holders_trust_levels_and_scopes() -> None:
    types = _types()
    assert Counter(t.holder for t in types).keys() == {"person", "legal_person"}
    assert Counter(t.trust_level for t in types).keys() == {"A", "B", "C", "D"}
    assert {t.scope for t in types} == {"national", "hunan"}
    assert all(t.name.startswith("湖南省") for t in types if t.scope == "hunan")
    assert sum(t.scope == "hunan" for t in types) >= 30


@pytest.mark.parametrize(
    ("name", "department", "holder"),
    [
        ("居民身份证", "公安部", "person"),
        ("居民户口簿", "公安部", "person"),
        ("机动车驾驶证", "公安部", "person"),
        ("营业执照", "国家市场监督管理总局", "legal_person"),
        ("食品经营许可证", "国家市场监督管理总局", "legal_person"),
        ("结婚证", "民政部", "person"),
        ("不动产权证书", "自然资源部", "person"),
        ("社会保障卡", "人力资源和社会保障部", "person"),
        ("出生医学证明", "国家卫生健康委员会", "person"),
        ("学位证书", "教育部", "person"),
    ],
)
def test_the_common_types_are_where_they_belong(name: str, department: str, holder: str) -> None:
    [found] = license_types_named(name)
    assert (found.department, found.holder) == (department, holder)
    assert license_type(found.code.lower()) == found


def test_the_resident_id_card_has_the_fields_on_the_card() -> None:
    [card] = license_types_named("居民身份证")
    assert card.trust_level == "A"
    assert card.field_names[:8] == (
        "name",
        "sex",
        "ethnicity",
        "birth_date",
        "address",
        "id_number",
        "valid_from",
        "valid_until",
    )


def test_the_real_codes_are_the_attested_ones() -> None:
    real = {t.code: t.name for t in _types() if t.code_source == "real"}
    assert real == {
        "11100000MB03271699001": "不动产权证书",
        "11100000MB03271699022": "不动产登记证明",
        "11100000000013338W001": "二级建造师注册证书",
        "11100000000013338W011": (
            "建筑施工企业主要负责人、项目负责人和专职安全生产管理人员安全生产考核合格证书"
        ),
        "11100000000013338W032": "建筑施工特种作业人员操作资格证书",
    }
    departments = {t.department for t in _types() if t.code_source != "generated"}
    assert departments == {"自然资源部", "住房和城乡建设部"}


def test_an_unknown_code_is_none() -> None:
    assert license_type("11100000000013338W999") is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ROW.replace("13338W,", "13338X,"), "department code"),
        (ROW.replace("W032,", "W32,"), "is not 11100000000013338W \\+ 3 digits"),
        (ROW.replace(",person,", ",citizen,"), "holder 'citizen'"),
        (ROW.replace(",B,", ",E,"), "trust level 'E'"),
        (ROW.replace(",national,", ",beijing,"), "scope 'beijing'"),
        (ROW.replace(",real,", ",guessed,"), "code source 'guessed'"),
        (ROW.replace(",住房和城乡建设部,", ", ,"), "no name or no department"),
        (ROW.replace("issue_date:date", "issue_date:datetime"), "field type 'datetime'"),
        (ROW.replace("issue_date:date", "IssueDate:date"), "snake_case"),
        (ROW.replace("issue_date:date", "holder_name:date"), "repeated field names"),
        (ROW + ROW, "line 3: code 11100000000013338W032 is repeated"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(row: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_license_types(HEADER + row)


def test_a_good_row_parses() -> None:
    [parsed] = parse_license_types(HEADER + ROW).values()
    assert parsed.serial == "032"
    assert parse_fields("a:string;b2_c:boolean")[1].type == "boolean"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_license_types", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_file_is_what_the_script_writes() -> None:
    text = (ROOT / "app" / "data" / "license_types.csv").read_text(encoding="utf-8")
    assert text == _script().render(), "run scripts/generate_license_types.py"
