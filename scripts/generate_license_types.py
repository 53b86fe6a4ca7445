# ruff: noqa: E501  (the table of license types below is data: one type a line)
"""(Re)write ``app/data/license_types.csv``: the e-license types (电子证照类型) the registry knows.

Each row is one license type: its GB/T 36904 type code (the defining department's 18-character
unified social credit code + a 3-digit serial), its Chinese name, the department that defines it,
who holds it (a person or a legal person), its trust level A-D and its data fields.

Where the department's credit code, or the whole type code, is attested in public sources it is
used as is (``REAL_DEPARTMENT_CODES``, ``REAL_TYPE_CODES``; see ``app/data/README.md``). Every
other department gets a *generated* credit code, valid per GB 32100 and derived deterministically
from its name (``generated_department_code``), and serials are numbered in the order below,
skipping the attested ones. The same table makes the same file, byte for byte.

    .venv/bin/python scripts/generate_license_types.py           # rewrite the file
    .venv/bin/python scripts/generate_license_types.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.identifiers import USCC_ALPHABET, make_uscc, validate_uscc  # noqa: E402

OUTPUT = ROOT / "app" / "data" / "license_types.csv"
COLUMNS = (
    "code",
    "name",
    "department",
    "department_code",
    "code_source",
    "scope",
    "holder",
    "trust_level",
    "fields",
)

# Credit codes of defining departments seen in real e-license identifiers and type catalogues.
REAL_DEPARTMENT_CODES = {
    "住房和城乡建设部": "11100000000013338W",
    "自然资源部": "11100000MB03271699",
}
# Whole type codes seen in real systems (department, name) -> serial.
REAL_TYPE_CODES = {
    ("自然资源部", "不动产权证书"): "001",
    ("自然资源部", "不动产登记证明"): "022",
    ("住房和城乡建设部", "二级建造师注册证书"): "001",
    (
        "住房和城乡建设部",
        "建筑施工企业主要负责人、项目负责人和专职安全生产管理人员安全生产考核合格证书",
    ): "011",
    ("住房和城乡建设部", "建筑施工特种作业人员操作资格证书"): "032",
}

# Field sets, "name:type" with type one of string, date, integer, decimal, boolean.
PERSON_CERT = "holder_name:string;id_number:string;license_number:string;issue_date:date;valid_until:date;issuer:string"
PERSON_QUAL = (
    "holder_name:string;id_number:string;license_number:string;qualification:string;"
    "level:string;issue_date:date;valid_until:date;issuer:string"
)
PERSON_PROOF = "holder_name:string;id_number:string;proof_number:string;content:string;issue_date:date;issuer:string"
ORG_PERMIT = (
    "entity_name:string;credit_code:string;legal_representative:string;address:string;"
    "license_number:string;scope:string;issue_date:date;valid_until:date;issuer:string"
)
ORG_RECORD = "entity_name:string;credit_code:string;record_number:string;record_content:string;record_date:date;issuer:string"
ORG_QUAL = (
    "entity_name:string;credit_code:string;legal_representative:string;license_number:string;"
    "qualification:string;level:string;issue_date:date;valid_until:date;issuer:string"
)
VEHICLE = (
    "holder_name:string;id_number:string;plate_number:string;vehicle_type:string;brand_model:string;"
    "vin:string;engine_number:string;register_date:date;issue_date:date;issuer:string"
)
SHIP = "holder_name:string;credit_code:string;ship_name:string;port_of_registry:string;gross_tonnage:decimal;license_number:string;issue_date:date;valid_until:date;issuer:string"
PROPERTY = (
    "holder_name:string;id_number:string;license_number:string;property_unit_number:string;"
    "location:string;right_type:string;use:string;area_m2:decimal;share:string;issue_date:date;issuer:string"
)
EDUCATION = "holder_name:string;id_number:string;certificate_number:string;school:string;major:string;level:string;graduation_date:date;issuer:string"
MARRIAGE = (
    "holder_name:string;id_number:string;spouse_name:string;spouse_id_number:string;"
    "certificate_number:string;registration_date:date;issuer:string"
)
TRAVEL = (
    "holder_name:string;name_pinyin:string;sex:string;birth_date:date;birth_place:string;"
    "id_number:string;document_number:string;issue_date:date;valid_until:date;issuer:string"
)

P, L = "person", "legal_person"
# department -> [(name, holder, trust level, fields)]; the scope is "national" for the central
# departments and "hunan" for the Hunan provincial ones (HUNAN_DEPARTMENTS).
TYPES: dict[str, list[tuple[str, str, str, str]]] = {
    "公安部": [
        (
            "居民身份证",
            P,
            "A",
            "name:string;sex:string;ethnicity:string;birth_date:date;address:string;id_number:string;valid_from:date;valid_until:date;issuer:string",
        ),
        (
            "临时居民身份证",
            P,
            "A",
            "name:string;sex:string;ethnicity:string;birth_date:date;address:string;id_number:string;valid_from:date;valid_until:date;issuer:string",
        ),
        (
            "居民户口簿",
            P,
            "A",
            "household_number:string;household_type:string;head_of_household:string;address:string;name:string;relation_to_head:string;sex:string;ethnicity:string;birth_date:date;birth_place:string;id_number:string;issue_date:date;issuer:string",
        ),
        (
            "居住证",
            P,
            "B",
            "name:string;sex:string;ethnicity:string;birth_date:date;id_number:string;residence_address:string;card_number:string;issue_date:date;valid_until:date;issuer:string",
        ),
        (
            "机动车驾驶证",
            P,
            "A",
            "name:string;sex:string;nationality:string;address:string;birth_date:date;first_issue_date:date;license_class:string;id_number:string;file_number:string;valid_from:date;valid_until:date;issuer:string",
        ),
        (
            "机动车行驶证",
            P,
            "A",
            "owner:string;plate_number:string;vehicle_type:string;address:string;use_character:string;brand_model:string;vin:string;engine_number:string;register_date:date;issue_date:date;issuer:string",
        ),
        ("机动车登记证书", P, "A", VEHICLE),
        ("无犯罪记录证明", P, "B", PERSON_PROOF),
        ("保安员证", P, "B", PERSON_CERT),
        ("保安服务许可证", L, "B", ORG_PERMIT),
        ("特种行业许可证（旅馆业）", L, "B", ORG_PERMIT),
        ("特种行业许可证（公章刻制业）", L, "B", ORG_PERMIT),
        ("剧毒化学品购买许可证", L, "B", ORG_PERMIT),
        ("民用爆炸物品购买许可证", L, "B", ORG_PERMIT),
        ("烟花爆竹道路运输许可证", L, "B", ORG_PERMIT),
        ("大型群众性活动安全许可决定书", L, "C", ORG_PERMIT),
        ("道路交通事故认定书", P, "C", PERSON_PROOF),
        ("户籍证明", P, "B", PERSON_PROOF),
    ],
    "国家移民管理局": [
        ("普通护照", P, "A", TRAVEL),
        ("往来港澳通行证", P, "A", TRAVEL),
        ("往来台湾通行证", P, "A", TRAVEL),
        ("港澳居民来往内地通行证", P, "A", TRAVEL),
        ("台湾居民来往大陆通行证", P, "A", TRAVEL),
        ("外国人永久居留身份证", P, "A", TRAVEL),
        (
            "港澳台居民居住证",
            P,
            "A",
            "name:string;sex:string;birth_date:date;address:string;id_number:string;pass_number:string;valid_from:date;valid_until:date;issuer:string",
        ),
    ],
    "国家市场监督管理总局": [
        (
            "营业执照",
            L,
            "A",
            "entity_name:string;credit_code:string;entity_type:string;legal_representative:string;registered_capital:string;established_date:date;business_term:string;address:string;business_scope:string;registration_authority:string;issue_date:date",
        ),
        (
            "个体工商户营业执照",
            L,
            "A",
            "entity_name:string;credit_code:string;operator_name:string;operator_id_number:string;organisation_form:string;business_place:string;business_scope:string;registration_date:date;registration_authority:string",
        ),
        (
            "农民专业合作社营业执照",
            L,
            "A",
            "entity_name:string;credit_code:string;legal_representative:string;members_contribution:string;established_date:date;address:string;business_scope:string;registration_authority:string",
        ),
        (
            "食品经营许可证",
            L,
            "B",
            "entity_name:string;credit_code:string;legal_representative:string;address:string;business_place:string;main_business:string;business_items:string;license_number:string;issue_date:date;valid_until:date;issuer:string",
        ),
        (
            "食品生产许可证",
            L,
            "B",
            "entity_name:string;credit_code:string;legal_representative:string;address:string;production_address:string;food_category:string;license_number:string;issue_date:date;valid_until:date;issuer:string",
        ),
        ("仅销售预包装食品备案凭证", L, "C", ORG_RECORD),
        ("工业产品生产许可证", L, "B", ORG_PERMIT),
        ("特种设备生产许可证", L, "B", ORG_PERMIT),
        (
            "特种设备使用登记证",
            L,
            "B",
            "entity_name:string;credit_code:string;equipment_category:string;equipment_type:string;equipment_code:string;registration_number:string;use_address:string;issue_date:date;issuer:string",
        ),
        ("特种设备安全管理和作业人员证", P, "B", PERSON_QUAL),
        ("检验检测机构资质认定证书", L, "B", ORG_QUAL),
        ("计量标准考核证书", L, "C", ORG_PERMIT),
        ("认证机构批准书", L, "B", ORG_PERMIT),
        ("登记注册证明", L, "C", ORG_RECORD),
        ("企业名称自主申报告知书", L, "D", ORG_RECORD),
        ("股权出质登记通知书", L, "C", ORG_RECORD),
    ],
    "国家药品监督管理局": [
        ("药品生产许可证", L, "B", ORG_PERMIT),
        ("药品经营许可证", L, "B", ORG_PERMIT),
        ("药品注册证书", L, "B", ORG_PERMIT),
        ("医疗器械注册证", L, "B", ORG_PERMIT),
        ("医疗器械生产许可证", L, "B", ORG_PERMIT),
        ("医疗器械经营许可证", L, "B", ORG_PERMIT),
        ("第二类医疗器械经营备案凭证", L, "C", ORG_RECORD),
        ("第一类医疗器械备案凭证", L, "C", ORG_RECORD),
        ("化妆品生产许可证", L, "B", ORG_PERMIT),
        ("执业药师注册证", P, "B", PERSON_QUAL),
        ("互联网药品信息服务资格证书", L, "C", ORG_PERMIT),
    ],
    "民政部": [
        ("结婚证", P, "A", MARRIAGE),
        ("离婚证", P, "A", MARRIAGE),
        (
            "收养登记证",
            P,
            "A",
            "adopter_name:string;adopter_id_number:string;adoptee_name:string;adoptee_birth_date:date;certificate_number:string;registration_date:date;issuer:string",
        ),
        ("婚姻登记记录证明", P, "B", PERSON_PROOF),
        ("社会团体法人登记证书", L, "A", ORG_PERMIT),
        ("民办非企业单位登记证书", L, "A", ORG_PERMIT),
        ("基金会法人登记证书", L, "A", ORG_PERMIT),
        ("慈善组织公开募捐资格证书", L, "B", ORG_PERMIT),
        ("养老机构备案回执", L, "C", ORG_RECORD),
        (
            "最低生活保障证",
            P,
            "B",
            "holder_name:string;id_number:string;certificate_number:string;household_size:integer;monthly_allowance:decimal;valid_from:date;valid_until:date;issuer:string",
        ),
        ("特困人员救助供养证", P, "B", PERSON_CERT),
        ("殡葬服务证明（火化证明）", P, "C", PERSON_PROOF),
    ],
    "中国残疾人联合会": [
        (
            "中华人民共和国残疾人证",
            P,
            "A",
            "name:string;sex:string;birth_date:date;id_number:string;address:string;disability_category:string;disability_grade:string;certificate_number:string;issue_date:date;valid_until:date;issuer:string",
        ),
    ],
    "自然资源部": [
        ("不动产权证书", P, "A", PROPERTY),
        (
            "不动产登记证明",
            P,
            "A",
            "holder_name:string;id_number:string;proof_number:string;registration_type:string;obligor:string;location:string;property_unit_number:string;issue_date:date;issuer:string",
        ),
        ("建设用地规划许可证", L, "B", ORG_PERMIT),
        ("建设工程规划许可证", L, "B", ORG_PERMIT),
        ("乡村建设规划许可证", P, "B", PERSON_CERT),
        ("建设项目用地预审与选址意见书", L, "B", ORG_PERMIT),
        ("采矿许可证", L, "B", ORG_PERMIT),
        ("矿产资源勘查许可证", L, "B", ORG_PERMIT),
        ("测绘资质证书", L, "B", ORG_QUAL),
        ("地质灾害防治单位资质证书", L, "B", ORG_QUAL),
        ("不动产登记资料查询结果证明", P, "C", PERSON_PROOF),
    ],
    "住房和城乡建设部": [
        ("二级建造师注册证书", P, "B", PERSON_QUAL),
        (
            "建筑施工企业主要负责人、项目负责人和专职安全生产管理人员安全生产考核合格证书",
            P,
            "B",
            PERSON_QUAL,
        ),
        ("建筑施工特种作业人员操作资格证书", P, "B", PERSON_QUAL),
        ("一级建造师注册证书", P, "B", PERSON_QUAL),
        ("注册监理工程师注册执业证书", P, "B", PERSON_QUAL),
        ("一级注册建筑师注册证书", P, "B", PERSON_QUAL),
        ("一级注册结构工程师注册执业证书", P, "B", PERSON_QUAL),
        ("一级造价工程师注册证书", P, "B", PERSON_QUAL),
        ("建筑工程施工许可证", L, "B", ORG_PERMIT),
        ("建筑业企业资质证书", L, "B", ORG_QUAL),
        ("建筑施工企业安全生产许可证", L, "B", ORG_PERMIT),
        ("工程勘察资质证书", L, "B", ORG_QUAL),
        ("工程设计资质证书", L, "B", ORG_QUAL),
        ("工程监理企业资质证书", L, "B", ORG_QUAL),
        ("房地产开发企业资质证书", L, "B", ORG_QUAL),
        ("商品房预售许可证", L, "B", ORG_PERMIT),
        ("燃气经营许可证", L, "B", ORG_PERMIT),
        ("城镇污水排入排水管网许可证", L, "B", ORG_PERMIT),
        ("房屋建筑和市政基础设施工程竣工验收备案证明", L, "C", ORG_RECORD),
        ("建设工程消防验收意见书", L, "C", ORG_RECORD),
    ],
    "人力资源和社会保障部": [
        (
            "社会保障卡",
            P,
            "A",
            "name:string;sex:string;ethnicity:string;birth_date:date;id_number:string;card_number:string;issue_date:date;valid_until:date;issuer:string",
        ),
        ("就业创业证", P, "B", PERSON_CERT),
        ("专业技术人员职业资格证书", P, "B", PERSON_QUAL),
        ("技能人员职业资格证书", P, "B", PERSON_QUAL),
        ("职业技能等级证书", P, "B", PERSON_QUAL),
        ("专业技术职务任职资格证书", P, "B", PERSON_QUAL),
        ("社会保险参保缴费证明", P, "C", PERSON_PROOF),
        ("人力资源服务许可证", L, "B", ORG_PERMIT),
        ("劳务派遣经营许可证", L, "B", ORG_PERMIT),
        ("民办职业培训学校办学许可证", L, "B", ORG_PERMIT),
        ("单位参保证明", L, "C", ORG_RECORD),
    ],
    "国家卫生健康委员会": [
        (
            "出生医学证明",
            P,
            "A",
            "child_name:string;sex:string;birth_date:date;birth_place:string;gestational_weeks:integer;birth_weight_g:integer;mother_name:string;mother_id_number:string;father_name:string;father_id_number:string;certificate_number:string;issuer:string",
        ),
        ("医学死亡证明书", P, "A", PERSON_PROOF),
        ("医师资格证书", P, "B", PERSON_QUAL),
        ("医师执业证书", P, "B", PERSON_QUAL),
        ("护士执业证书", P, "B", PERSON_QUAL),
        ("乡村医生执业证书", P, "B", PERSON_QUAL),
        (
            "预防接种证",
            P,
            "C",
            "child_name:string;sex:string;birth_date:date;guardian_name:string;guardian_id_number:string;certificate_number:string;issue_date:date;issuer:string",
        ),
        ("生育登记服务证明", P, "C", PERSON_PROOF),
        ("独生子女父母光荣证", P, "C", PERSON_CERT),
        (
            "无偿献血证",
            P,
            "D",
            "holder_name:string;id_number:string;certificate_number:string;blood_type:string;volume_ml:integer;donation_date:date;issuer:string",
        ),
        ("医疗机构执业许可证", L, "B", ORG_PERMIT),
        ("母婴保健技术服务执业许可证", L, "B", ORG_PERMIT),
        ("放射诊疗许可证", L, "B", ORG_PERMIT),
        ("公共场所卫生许可证", L, "B", ORG_PERMIT),
        ("消毒产品生产企业卫生许可证", L, "B", ORG_PERMIT),
        ("饮用水供水单位卫生许可证", L, "B", ORG_PERMIT),
        ("诊所备案凭证", L, "C", ORG_RECORD),
    ],
    "国家中医药管理局": [
        ("中医诊所备案证", L, "C", ORG_RECORD),
        ("中医（专长）医师资格证书", P, "B", PERSON_QUAL),
    ],
    "国家医疗保障局": [
        (
            "医保电子凭证",
            P,
            "A",
            "name:string;id_number:string;insurance_number:string;insured_place:string;insurance_type:string;issue_date:date;issuer:string",
        ),
        ("异地就医备案凭证", P, "C", PERSON_PROOF),
        ("参保缴费证明（医疗保险）", P, "C", PERSON_PROOF),
    ],
    "教育部": [
        (
            "学位证书",
            P,
            "B",
            "holder_name:string;id_number:string;certificate_number:string;university:string;degree:string;discipline:string;award_date:date;issuer:string",
        ),
        ("高等教育学历证书", P, "B", EDUCATION),
        ("普通高中毕业证书", P, "B", EDUCATION),
        ("中等职业学校毕业证书", P, "B", EDUCATION),
        ("教师资格证书", P, "B", PERSON_QUAL),
        ("普通话水平测试等级证书", P, "C", PERSON_QUAL),
        ("学历证书电子注册备案表", P, "C", EDUCATION),
        ("民办学校办学许可证", L, "B", ORG_PERMIT),
        ("校外培训机构办学许可证", L, "B", ORG_PERMIT),
    ],
    "交通运输部": [
        ("道路运输经营许可证", L, "B", ORG_PERMIT),
        (
            "道路运输证",
            L,
            "B",
            "holder_name:string;credit_code:string;plate_number:string;vehicle_type:string;tonnage_or_seats:string;license_number:string;business_scope:string;issue_date:date;valid_until:date;issuer:string",
        ),
        ("道路运输从业人员从业资格证", P, "B", PERSON_QUAL),
        ("出租汽车驾驶员从业资格证", P, "B", PERSON_QUAL),
        ("网络预约出租汽车运输证", L, "B", ORG_PERMIT),
        ("网络预约出租汽车经营许可证", L, "B", ORG_PERMIT),
        ("船员适任证书", P, "B", PERSON_QUAL),
        ("船舶国籍证书", L, "B", SHIP),
        ("船舶所有权登记证书", L, "B", SHIP),
        ("国内水路运输经营许可证", L, "B", ORG_PERMIT),
        ("港口经营许可证", L, "B", ORG_PERMIT),
        ("公路超限运输车辆通行证", L, "C", ORG_PERMIT),
        ("机动车维修经营备案证明", L, "C", ORG_RECORD),
        ("机动车驾驶员培训经营备案证明", L, "C", ORG_RECORD),
    ],
    "农业农村部": [
        (
            "农村土地承包经营权证",
            P,
            "A",
            "contractor_name:string;id_number:string;certificate_number:string;location:string;plots:integer;area_mu:decimal;contract_term:string;issue_date:date;issuer:string",
        ),
        ("拖拉机和联合收割机驾驶证", P, "B", PERSON_QUAL),
        ("拖拉机和联合收割机行驶证", P, "B", VEHICLE),
        ("执业兽医资格证书", P, "B", PERSON_QUAL),
        ("渔业船舶国籍证书", P, "B", SHIP),
        ("渔业捕捞许可证", P, "B", PERSON_CERT),
        ("动物防疫条件合格证", L, "B", ORG_PERMIT),
        ("动物诊疗许可证", L, "B", ORG_PERMIT),
        ("兽药经营许可证", L, "B", ORG_PERMIT),
        ("兽药生产许可证", L, "B", ORG_PERMIT),
        ("农药经营许可证", L, "B", ORG_PERMIT),
        ("农药生产许可证", L, "B", ORG_PERMIT),
        ("农作物种子生产经营许可证", L, "B", ORG_PERMIT),
        ("饲料和饲料添加剂生产许可证", L, "B", ORG_PERMIT),
        ("生鲜乳收购许可证", L, "B", ORG_PERMIT),
        ("水产苗种生产许可证", L, "B", ORG_PERMIT),
        ("家庭农场名录登记证明", L, "D", ORG_RECORD),
    ],
    "生态环境部": [
        ("排污许可证", L, "B", ORG_PERMIT),
        ("固定污染源排污登记回执", L, "C", ORG_RECORD),
        ("辐射安全许可证", L, "B", ORG_PERMIT),
        ("危险废物经营许可证", L, "B", ORG_PERMIT),
        ("建设项目环境影响报告书（表）审批意见", L, "C", ORG_RECORD),
        ("建设项目环境影响登记表备案回执", L, "D", ORG_RECORD),
    ],
    "应急管理部": [
        ("特种作业操作证", P, "B", PERSON_QUAL),
        ("安全生产知识和管理能力考核合格证", P, "B", PERSON_QUAL),
        ("非煤矿矿山企业安全生产许可证", L, "B", ORG_PERMIT),
        ("危险化学品生产企业安全生产许可证", L, "B", ORG_PERMIT),
        ("危险化学品经营许可证", L, "B", ORG_PERMIT),
        ("危险化学品安全使用许可证", L, "B", ORG_PERMIT),
        ("烟花爆竹经营（批发）许可证", L, "B", ORG_PERMIT),
        ("烟花爆竹经营（零售）许可证", L, "B", ORG_PERMIT),
        ("烟花爆竹生产企业安全生产许可证", L, "B", ORG_PERMIT),
        ("第二类、第三类易制毒化学品购买备案证明", L, "C", ORG_RECORD),
    ],
    "国家消防救援局": [
        ("公众聚集场所投入使用、营业前消防安全检查合格证", L, "B", ORG_PERMIT),
        ("消防设施操作员职业资格证书", P, "B", PERSON_QUAL),
    ],
    "国家税务总局": [
        (
            "中华人民共和国税收完税证明",
            P,
            "B",
            "taxpayer_name:string;taxpayer_id:string;proof_number:string;tax_type:string;amount:decimal;period:string;issue_date:date;issuer:string",
        ),
        ("个人所得税纳税记录", P, "C", PERSON_PROOF),
        ("纳税信用等级评价结果", L, "C", ORG_RECORD),
        ("中国税收居民身份证明", L, "B", ORG_RECORD),
        ("无欠税证明", L, "C", ORG_RECORD),
    ],
    "文化和旅游部": [
        ("导游证", P, "B", PERSON_QUAL),
        ("旅行社业务经营许可证", L, "B", ORG_PERMIT),
        ("营业性演出许可证", L, "B", ORG_PERMIT),
        ("娱乐经营许可证", L, "B", ORG_PERMIT),
        ("网络文化经营许可证", L, "B", ORG_PERMIT),
        ("艺术品经营单位备案证明", L, "C", ORG_RECORD),
        ("旅游民宿等级评定证书", L, "D", ORG_QUAL),
    ],
    "国家广播电视总局": [
        ("广播电视节目制作经营许可证", L, "B", ORG_PERMIT),
        ("信息网络传播视听节目许可证", L, "B", ORG_PERMIT),
        ("卫星地面接收设施安装服务许可证", L, "B", ORG_PERMIT),
    ],
    "国家新闻出版署": [
        ("出版物经营许可证", L, "B", ORG_PERMIT),
        ("印刷经营许可证", L, "B", ORG_PERMIT),
        ("网络出版服务许可证", L, "B", ORG_PERMIT),
    ],
    "工业和信息化部": [
        ("增值电信业务经营许可证", L, "B", ORG_PERMIT),
        ("电信设备进网许可证", L, "B", ORG_PERMIT),
        ("无线电台执照", L, "B", ORG_PERMIT),
        ("无线电频率使用许可证", L, "B", ORG_PERMIT),
        ("民用爆炸物品生产许可证", L, "B", ORG_PERMIT),
    ],
    "商务部": [
        ("对外贸易经营者备案登记表", L, "C", ORG_RECORD),
        ("拍卖经营批准证书", L, "B", ORG_PERMIT),
        ("成品油零售经营批准证书", L, "B", ORG_PERMIT),
        ("单用途商业预付卡备案证明", L, "C", ORG_RECORD),
        ("对外劳务合作经营资格证书", L, "B", ORG_PERMIT),
        ("企业境外投资证书", L, "B", ORG_PERMIT),
    ],
    "海关总署": [
        ("海关进出口货物收发货人备案回执", L, "C", ORG_RECORD),
        ("出口食品生产企业备案证明", L, "C", ORG_RECORD),
        ("原产地证书", L, "B", ORG_RECORD),
    ],
    "国家林业和草原局": [
        ("林木采伐许可证", P, "B", PERSON_CERT),
        ("林草种子生产经营许可证", L, "B", ORG_PERMIT),
        ("野生动物人工繁育许可证", L, "B", ORG_PERMIT),
        ("使用林地审核同意书", L, "B", ORG_PERMIT),
        ("植物检疫证书", L, "C", ORG_RECORD),
    ],
    "水利部": [
        ("取水许可证", L, "B", ORG_PERMIT),
        ("河道采砂许可证", L, "B", ORG_PERMIT),
        ("水利工程质量检测单位资质等级证书", L, "B", ORG_QUAL),
        ("生产建设项目水土保持方案审批决定书", L, "C", ORG_RECORD),
    ],
    "退役军人事务部": [
        ("退役军人优待证", P, "B", PERSON_CERT),
        ("中华人民共和国残疾军人证", P, "A", PERSON_CERT),
        (
            "烈士证明书",
            P,
            "A",
            "martyr_name:string;sex:string;birth_date:date;death_date:date;holder_name:string;holder_id_number:string;certificate_number:string;issuer:string",
        ),
        ("退役军人光荣牌悬挂证明", P, "D", PERSON_PROOF),
    ],
    "国家烟草专卖局": [
        ("烟草专卖零售许可证", L, "B", ORG_PERMIT),
        ("烟草专卖批发企业许可证", L, "B", ORG_PERMIT),
    ],
    "司法部": [
        ("法律职业资格证书", P, "B", PERSON_QUAL),
        ("律师执业证", P, "B", PERSON_QUAL),
        ("公证员执业证", P, "B", PERSON_QUAL),
        ("司法鉴定人执业证", P, "B", PERSON_QUAL),
        ("基层法律服务工作者执业证", P, "B", PERSON_QUAL),
        ("律师事务所执业许可证", L, "B", ORG_PERMIT),
        ("司法鉴定许可证", L, "B", ORG_PERMIT),
        (
            "公证书",
            P,
            "A",
            "holder_name:string;id_number:string;notarial_number:string;matter:string;content:string;issue_date:date;issuer:string",
        ),
    ],
    "国家能源局": [
        ("电力业务许可证", L, "B", ORG_PERMIT),
        ("承装（修、试）电力设施许可证", L, "B", ORG_PERMIT),
    ],
    "国家邮政局": [
        ("快递业务经营许可证", L, "B", ORG_PERMIT),
        ("快递末端网点备案证明", L, "D", ORG_RECORD),
    ],
    "中国民用航空局": [
        ("民用航空器驾驶员执照", P, "B", PERSON_QUAL),
        ("民用无人驾驶航空器操控员执照", P, "B", PERSON_QUAL),
        ("通用航空经营许可证", L, "B", ORG_PERMIT),
    ],
    "国家体育总局": [
        ("高危险性体育项目经营许可证", L, "B", ORG_PERMIT),
        ("运动员技术等级证书", P, "C", PERSON_QUAL),
        ("社会体育指导员证书", P, "C", PERSON_QUAL),
    ],
    "国家知识产权局": [
        (
            "发明专利证书",
            L,
            "B",
            "patentee:string;patent_number:string;title:string;inventors:string;filing_date:date;grant_date:date;certificate_number:string;issuer:string",
        ),
        (
            "实用新型专利证书",
            L,
            "B",
            "patentee:string;patent_number:string;title:string;inventors:string;filing_date:date;grant_date:date;certificate_number:string;issuer:string",
        ),
        (
            "商标注册证",
            L,
            "B",
            "registrant:string;registration_number:string;trademark:string;classes:string;goods_services:string;valid_from:date;valid_until:date;issuer:string",
        ),
    ],
    "科学技术部": [
        ("外国人工作许可证", P, "B", TRAVEL),
        ("高新技术企业证书", L, "B", ORG_QUAL),
        ("科技型中小企业入库登记编号", L, "D", ORG_RECORD),
        ("人类遗传资源采集审批决定", L, "C", ORG_RECORD),
    ],
    "财政部": [
        ("代理记账许可证书", L, "B", ORG_PERMIT),
        ("会计专业技术资格证书", P, "B", PERSON_QUAL),
        ("注册会计师证书", P, "B", PERSON_QUAL),
    ],
    "国家宗教事务局": [
        ("宗教活动场所登记证", L, "B", ORG_PERMIT),
    ],
    "中国气象局": [
        ("防雷装置检测资质证", L, "B", ORG_QUAL),
        ("升放气球资质证", L, "B", ORG_QUAL),
        ("雷电防护装置设计审核意见书", L, "C", ORG_RECORD),
    ],
    "国家文物局": [
        ("文物拍卖许可证", L, "B", ORG_PERMIT),
        ("文物商店设立批准证书", L, "B", ORG_PERMIT),
    ],
    "国家铁路局": [
        ("铁路机车车辆驾驶人员资格证", P, "B", PERSON_QUAL),
    ],
    "中国人民银行": [
        ("支付业务许可证", L, "B", ORG_PERMIT),
        ("个人信用报告", P, "C", PERSON_PROOF),
        ("企业信用报告", L, "C", ORG_RECORD),
    ],
    "中华全国总工会": [
        ("工会法人资格证书", L, "B", ORG_PERMIT),
        ("困难职工证", P, "C", PERSON_CERT),
    ],
    # Hunan provincial departments (湖南省): types defined by provincial law or practice.
    "湖南省市场监督管理局": [
        ("湖南省食品小作坊登记证", L, "B", ORG_PERMIT),
        ("湖南省小餐饮经营许可证", L, "B", ORG_PERMIT),
        ("湖南省食品摊贩登记卡", P, "C", PERSON_CERT),
        ("湖南省守合同重信用企业证书", L, "D", ORG_QUAL),
    ],
    "湖南省公安厅": [
        ("湖南省居住登记凭证", P, "C", PERSON_PROOF),
        ("湖南省出租房屋登记备案证明", P, "C", PERSON_PROOF),
        ("湖南省犬类准养证", P, "C", PERSON_CERT),
    ],
    "湖南省民政厅": [
        ("湖南省老年人优待证", P, "C", PERSON_CERT),
        ("湖南省高龄津贴领取证明", P, "C", PERSON_PROOF),
        ("湖南省困难残疾人生活补贴证明", P, "C", PERSON_PROOF),
        ("湖南省临时救助证明", P, "D", PERSON_PROOF),
    ],
    "湖南省人力资源和社会保障厅": [
        ("湖南省职称证书", P, "B", PERSON_QUAL),
        ("湖南省就业困难人员认定证明", P, "C", PERSON_PROOF),
        ("湖南省创业担保贷款资格证明", P, "C", PERSON_PROOF),
        ("湖南省高技能人才认定证书", P, "C", PERSON_QUAL),
    ],
    "湖南省卫生健康委员会": [
        ("湖南省计划生育家庭特别扶助证明", P, "C", PERSON_PROOF),
        ("湖南省从业人员健康证明", P, "C", PERSON_CERT),
        ("湖南省养老机构医疗服务备案凭证", L, "C", ORG_RECORD),
    ],
    "湖南省教育厅": [
        ("湖南省普通高中学业水平考试合格证", P, "C", EDUCATION),
        ("湖南省义务教育入学登记证明", P, "D", PERSON_PROOF),
        ("湖南省中小学教师资格定期注册证明", P, "C", PERSON_QUAL),
    ],
    "湖南省住房和城乡建设厅": [
        ("湖南省住房公积金缴存证明", P, "C", PERSON_PROOF),
        ("湖南省三类人员安全生产考核合格证书", P, "B", PERSON_QUAL),
        ("湖南省建设工程质量检测机构资质证书", L, "B", ORG_QUAL),
        ("湖南省房屋租赁登记备案证明", P, "C", PERSON_PROOF),
    ],
    "湖南省自然资源厅": [
        ("湖南省农村宅基地批准书", P, "B", PERSON_CERT),
        ("湖南省林权证", P, "B", PROPERTY),
    ],
    "湖南省交通运输厅": [
        ("湖南省道路运输驾驶员诚信考核证明", P, "D", PERSON_PROOF),
        ("湖南省水路运输船员服务簿", P, "C", PERSON_CERT),
    ],
    "湖南省农业农村厅": [
        ("湖南省农产品合格证", L, "D", ORG_RECORD),
        ("湖南省新型职业农民资格证书", P, "C", PERSON_QUAL),
        ("湖南省生猪定点屠宰证书", L, "B", ORG_PERMIT),
    ],
    "湖南省医疗保障局": [
        ("湖南省门诊慢特病待遇认定证明", P, "C", PERSON_PROOF),
        ("湖南省定点医药机构协议证明", L, "C", ORG_RECORD),
    ],
    "湖南省退役军人事务厅": [
        ("湖南省退役士兵安置证明", P, "C", PERSON_PROOF),
    ],
    "湖南省文化和旅游厅": [
        ("湖南省星级农家乐（乡村旅游区点）证书", L, "D", ORG_QUAL),
    ],
}
HUNAN_DEPARTMENTS = frozenset(name for name in TYPES if name.startswith("湖南省"))


def _code_body(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return "".join(USCC_ALPHABET[byte % len(USCC_ALPHABET)] for byte in digest[:length])


def generated_department_code(department: str) -> str:
    """A GB 32100 credit code for ``department``: registering department 1 (机构编制) category 1
    (机关), its division (100000 central, 430000 Hunan), a body derived from its name."""
    division = "430000" if department in HUNAN_DEPARTMENTS else "100000"
    return make_uscc("11", division, _code_body(f"xyb license types: {department}", 8))


def rows() -> list[dict[str, str]]:
    """The CSV rows, in the order of ``TYPES``."""
    out: list[dict[str, str]] = []
    for department, types in TYPES.items():
        real_department = department in REAL_DEPARTMENT_CODES
        department_code = REAL_DEPARTMENT_CODES.get(department) or generated_department_code(
            department
        )
        assert not validate_uscc(department_code), department
        taken = {s for (d, _), s in REAL_TYPE_CODES.items() if d == department}
        serials = (f"{n:03d}" for n in range(1, 1000) if f"{n:03d}" not in taken)
        for name, holder, trust, fields in types:
            real_serial = REAL_TYPE_CODES.get((department, name))
            serial = real_serial or next(serials)
            source = (
                "real" if real_serial else "real_department" if real_department else "generated"
            )
            out.append(
                {
                    "code": department_code + serial,
                    "name": name,
                    "department": department,
                    "department_code": department_code,
                    "code_source": source,
                    "scope": "hunan" if department in HUNAN_DEPARTMENTS else "national",
                    "holder": holder,
                    "trust_level": trust,
                    "fields": fields,
                }
            )
    return out


def render() -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows())
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/generate_license_types.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(rows())} license types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
