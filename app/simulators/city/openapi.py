"""Each city system's own OpenAPI document, describing exactly what its app does.

Half the cities publish OpenAPI 3.1.0 (长沙, 湘潭, 邵阳, 常德, 益阳, 永州, 娄底: every other one
by code, starting with 长沙), the others 3.0.3, with what differs between them: ``nullable``
against type lists, boolean against numeric ``exclusiveMinimum``, ``example`` against
``examples``, and a server URL with or without a trailing slash. Every operation carries
``x-xyb-item``: the code of the catalog item it serves, ``<division>-<service>-<nnn>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from app.simulators.city import data as d
from app.simulators.city.examples import (
    birth_registration_example,
    estate_record_example,
    residence_permit_example,
    resident_example,
)
from app.simulators.city.fields import (
    APPLICATION_ID_PATTERN,
    BIRTH_FIELDS,
    ID_NUMBER_SCHEMA,
    MONTH_PATTERN,
    RECORD_ID_PATTERN,
    REGISTRATION_ID_PATTERN,
    RESIDENCE_PERMIT_FIELDS,
    OpenApiVersion,
    example,
    nullable,
    object_schema,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


@dataclass(frozen=True, slots=True)
class ItemTemplate:
    suffix: str
    name: str
    kind: str  # 事项类型


@dataclass(frozen=True, slots=True)
class CityItem:
    """A catalog item a city system serves, and the operations bound to it."""

    code: str
    name: str
    kind: str
    division: str
    operation_ids: tuple[str, ...]


ITEMS: tuple[ItemTemplate, ...] = (
    ItemTemplate("BDC-001", "不动产登记信息查询", "公共服务"),
    ItemTemplate("GJJ-001", "住房公积金个人账户信息查询", "公共服务"),
    ItemTemplate("GJJ-002", "住房公积金缴存明细查询", "公共服务"),
    ItemTemplate("SB-001", "社会保险个人缴费记录查询", "公共服务"),
    ItemTemplate("JZZ-001", "居住证申领", "行政确认"),
    ItemTemplate("CSDJ-001", "出生登记", "行政确认"),
)


@dataclass(frozen=True, slots=True)
class OperationInfo:
    path: str
    method: str
    name: str  # operationId without the division suffix
    item: str  # the item template suffix
    tag: str
    summary: str


OPERATIONS: tuple[OperationInfo, ...] = (
    OperationInfo(
        "/bdc/records",
        "get",
        "listEstateRecords",
        "BDC-001",
        "不动产登记",
        "按证件号查询不动产登记记录",
    ),
    OperationInfo(
        "/bdc/records/{record_id}",
        "get",
        "getEstateRecord",
        "BDC-001",
        "不动产登记",
        "查询一条不动产登记记录",
    ),
    OperationInfo(
        "/gjj/accounts/{id_number}",
        "get",
        "getFundAccount",
        "GJJ-001",
        "住房公积金",
        "查询住房公积金个人账户",
    ),
    OperationInfo(
        "/gjj/accounts/{id_number}/deposits",
        "get",
        "listFundDeposits",
        "GJJ-002",
        "住房公积金",
        "查询住房公积金年度缴存明细",
    ),
    OperationInfo(
        "/shebao/contributions",
        "get",
        "listContributions",
        "SB-001",
        "社会保险",
        "查询社会保险个人缴费记录",
    ),
    OperationInfo(
        "/jzz/applications",
        "post",
        "createResidencePermitApplication",
        "JZZ-001",
        "居住证",
        "提交居住证申领",
    ),
    OperationInfo(
        "/jzz/applications/{application_id}",
        "get",
        "getResidencePermitApplication",
        "JZZ-001",
        "居住证",
        "查询居住证申领进度",
    ),
    OperationInfo(
        "/birth/registrations",
        "post",
        "createBirthRegistration",
        "CSDJ-001",
        "出生登记",
        "提交出生登记（表单）",
    ),
    OperationInfo(
        "/birth/registrations/{registration_id}",
        "get",
        "getBirthRegistration",
        "CSDJ-001",
        "出生登记",
        "查询出生登记结果",
    ),
)


def item_code(division: str, suffix: str) -> str:
    """The catalog item code of one of a city's services, e.g. ``430100-BDC-001``."""
    return f"{division}-{suffix}"


def operation_id(division: str, operation: OperationInfo) -> str:
    """An operationId unique across all cities, e.g. ``listEstateRecords_430100``."""
    return f"{operation.name}_{division}"


def city_items(division: str) -> list[CityItem]:
    """The catalog items city ``division`` serves, with the operationIds bound to each."""
    d.prefecture(division)
    return [
        CityItem(
            code=item_code(division, item.suffix),
            name=item.name,
            kind=item.kind,
            division=division,
            operation_ids=tuple(
                operation_id(division, op) for op in OPERATIONS if op.item == item.suffix
            ),
        )
        for item in ITEMS
    ]


def openapi_version(division: str) -> OpenApiVersion:
    """3.1.0 for every other prefecture by code, starting with 长沙; 3.0.3 for the rest."""
    index = [p.code for p in d.prefectures()].index(d.prefecture(division).code)
    return "3.1.0" if index % 2 == 0 else "3.0.3"


# `xyb demo`'s default port for the simulators' fault control; the cities take the next 14.
DEMO_BASE_PORT = 9000


def demo_port(division: str) -> int:
    """The port ``xyb demo`` serves this city on by default: 9001 (长沙) .. 9014 (湘西)."""
    index = [p.code for p in d.prefectures()].index(d.prefecture(division).code)
    return DEMO_BASE_PORT + 1 + index


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> dict[str, str]:
    return _ref("schemas", name)


def _positive(schema: dict[str, Any], version: OpenApiVersion) -> dict[str, Any]:
    """``schema`` with values above 0: boolean ``exclusiveMinimum`` in 3.0, numeric in 3.1."""
    if version == "3.0.3":
        return {**schema, "minimum": 0, "exclusiveMinimum": True}
    return {**schema, "exclusiveMinimum": 0}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _money(description: str) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "description": f"{description}（元）"}


def _media(schema: str, value: Any, summary: str, version: OpenApiVersion) -> dict[str, Any]:
    """A media type with its schema and one complete example: ``example`` in 3.0, a named
    Example Object under ``examples`` in 3.1 (both are valid in either; documents differ)."""
    if version == "3.0.3":
        return {"schema": _schema(schema), "example": value}
    return {
        "schema": _schema(schema),
        "examples": {"example": {"summary": summary, "value": value}},
    }


def _date(description: str) -> dict[str, Any]:
    return _string(description, format="date")


def _schemas(division: str, v: OpenApiVersion) -> dict[str, Any]:
    month = _string("月份（YYYY-MM）", pattern=MONTH_PATTERN)
    return {
        "IdNumber": ID_NUMBER_SCHEMA.schema(v, resident_example(division)),
        "Month": example(month, "2023-06", v),
        "FieldError": _object(
            {"field": _string("出错的字段"), "message": _string("原因")},
        ),
        "Error": {
            **_object(
                {
                    "code": _string("错误码：E加HTTP状态码", pattern="^E[0-9]{3}$"),
                    "message": _string("错误说明"),
                    "errors": {"type": "array", "items": _schema("FieldError")},
                },
                optional=("errors",),
            ),
            "description": "本系统的错误格式",
        },
        "ValidationError": {
            "description": "请求内容校验未通过：errors 列出每个出错的字段",
            "allOf": [_schema("Error"), {"type": "object", "required": ["errors"]}],
        },
        "EstateRecord": _object(
            {
                "record_id": _string("不动产登记记录编号", pattern=RECORD_ID_PATTERN),
                "cert_no": _string("不动产权证书号"),
                "owner_name": _string("权利人姓名"),
                "owner_id_number": _schema("IdNumber"),
                "location": _string("坐落"),
                "usage": _string("用途", enum=list(d.ESTATE_USAGES)),
                "floor_area": _positive({"type": "number", "description": "建筑面积（平方米）"}, v),
                "ownership": _string("共有情况", enum=list(d.OWNERSHIPS)),
                "registered_on": _date("登记日期"),
                "land_term_end": _date("土地使用期限截止日期"),
                "status": _string("权利状态", enum=list(d.ESTATE_STATUSES)),
                "mortgagee": nullable(_string("抵押权人（未抵押时为空）"), v),
                "mortgage_amount": nullable(
                    _positive({"type": "number", "description": "被担保主债权数额（元）"}, v), v
                ),
            }
        ),
        "EstateRecordList": _object(
            {
                "id_number": _schema("IdNumber"),
                "total": {"type": "integer", "minimum": 1},
                "records": {"type": "array", "minItems": 1, "items": _schema("EstateRecord")},
            }
        ),
        "FundAccount": _object(
            {
                "account_no": _string("个人公积金账号", pattern="^[0-9]{12}$"),
                "id_number": _schema("IdNumber"),
                "name": _string("姓名"),
                "employer_name": _string("缴存单位"),
                "employer_uscc": _string("缴存单位统一社会信用代码", pattern=USCC_PATTERN),
                "status": _string("账户状态", enum=list(d.FUND_STATUSES)),
                "opened_on": _date("开户日期"),
                "sealed_on": nullable(_date("封存日期"), v),
                "deposit_rate": _positive(
                    {"type": "number", "maximum": 0.12, "description": "个人及单位缴存比例"}, v
                ),
                "deposit_base": _money("当年缴存基数"),
                "monthly_deposit": _money("月缴存额（个人加单位）"),
                "balance": _money("账户余额"),
                "last_deposit_month": nullable(_string("最近缴存月份", pattern=MONTH_PATTERN), v),
            }
        ),
        "FundDeposit": _object(
            {
                "month": _schema("Month"),
                "deposited_on": _date("入账日期"),
                "base": _money("缴存基数"),
                "personal": _money("个人缴存额"),
                "employer": _money("单位缴存额"),
                "total": _money("合计"),
            }
        ),
        "FundDepositList": _object(
            {
                "id_number": _schema("IdNumber"),
                "account_no": _string("个人公积金账号", pattern="^[0-9]{12}$"),
                "year": {"type": "integer", "description": "年度"},
                "total": _money("年度缴存合计"),
                "deposits": {"type": "array", "items": _schema("FundDeposit")},
            }
        ),
        "Contribution": _object(
            {
                "month": _schema("Month"),
                "insurance": _string("险种", enum=list(d.INSURANCES)),
                "base": _money("缴费基数"),
                "personal": _money("个人缴费"),
                "employer": _money("单位缴费"),
                "payer": _string("缴费单位（灵活就业人员为个人）"),
                "status": _string("到账状态", enum=list(d.CONTRIBUTION_STATUSES)),
            }
        ),
        "ContributionList": _object(
            {
                "id_number": _schema("IdNumber"),
                "name": _string("姓名"),
                "from": _schema("Month"),
                "to": _schema("Month"),
                "total_personal": _money("个人缴费合计"),
                "total_employer": _money("单位缴费合计"),
                "records": {"type": "array", "items": _schema("Contribution")},
            }
        ),
        "ResidencePermitRequest": object_schema(
            RESIDENCE_PERMIT_FIELDS, v, residence_permit_example(division)
        ),
        "ResidencePermitApplication": {
            "allOf": [
                _schema("ResidencePermitRequest"),
                _object(
                    {
                        "application_id": _string("申请编号", pattern=APPLICATION_ID_PATTERN),
                        "status": _string(
                            "办理状态", enum=["受理", "审核中", "已办结", "不予受理"]
                        ),
                        "submitted_at": _string("提交时间", format="date-time"),
                        "promised_by": _date("承诺办结日期"),
                    }
                ),
            ]
        },
        "BirthRegistrationForm": object_schema(
            BIRTH_FIELDS, v, birth_registration_example(division)
        ),
        "BirthRegistration": {
            "allOf": [
                _schema("BirthRegistrationForm"),
                _object(
                    {
                        "registration_id": _string("登记编号", pattern=REGISTRATION_ID_PATTERN),
                        "status": _string("登记状态", enum=list(d.REGISTRATION_STATUSES)),
                        "registered_at": _string("登记时间", format="date-time"),
                        "household_address": _string("落户地址"),
                    }
                ),
            ]
        },
    }


def _path_parameter(name: str, description: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _parameters(division: str) -> dict[str, Any]:
    """The parameters, each with an example a request to this city can use as it is."""
    person = resident_example(division)
    return {
        "IdNumberQuery": {
            "name": "id_number",
            "in": "query",
            "required": True,
            "description": "公民身份号码",
            "schema": _schema("IdNumber"),
            "example": person,
        },
        "IdNumberPath": {
            "name": "id_number",
            "in": "path",
            "required": True,
            "description": "公民身份号码",
            "schema": _schema("IdNumber"),
            "example": person,
        },
        "RecordId": {
            **_path_parameter("record_id", "不动产登记记录编号", RECORD_ID_PATTERN),
            "example": estate_record_example(division),
        },
        "ApplicationId": _path_parameter(
            "application_id", "居住证申请编号", APPLICATION_ID_PATTERN
        ),
        "RegistrationId": _path_parameter(
            "registration_id", "出生登记编号", REGISTRATION_ID_PATTERN
        ),
        "Year": {
            "name": "year",
            "in": "query",
            "required": False,
            "description": "年度，缺省为当年",
            "schema": {"type": "integer", "minimum": 1991, "maximum": 2100},
            "example": 2023,
        },
        "FromMonth": {
            "name": "from",
            "in": "query",
            "required": False,
            "description": "起始月份，缺省为截止月份所在年的1月",
            "schema": _schema("Month"),
        },
        "ToMonth": {
            "name": "to",
            "in": "query",
            "required": False,
            "description": "截止月份，缺省为当月；跨度不超过60个月",
            "schema": _schema("Month"),
        },
    }


def _error_response(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _schema(schema)}}}


def _responses() -> dict[str, Any]:
    return {
        "BadRequest": _error_response(
            "参数错误：格式不正确、公民身份号码校验未通过（GB 11643）或请求体不是合法的JSON"
        ),
        "NotFound": _error_response("未找到相关记录"),
        "UnsupportedMediaType": _error_response("请求体类型不受支持"),
        "UnprocessableEntity": _error_response("请求内容校验未通过", "ValidationError"),
        "Error": _error_response("其他错误（如系统繁忙）"),
    }


def _ok(description: str, schema: str, status: int = 200) -> dict[int | str, Any]:
    return {status: {"description": description, "content": {JSON: {"schema": _schema(schema)}}}}


def _errors(*statuses: int) -> dict[int | str, Any]:
    names = {
        400: "BadRequest",
        404: "NotFound",
        415: "UnsupportedMediaType",
        422: "UnprocessableEntity",
    }
    found: dict[int | str, Any] = {status: _ref("responses", names[status]) for status in statuses}
    found["default"] = _ref("responses", "Error")
    return found


def _created(description: str, schema: str) -> dict[int | str, Any]:
    return {
        201: {
            "description": description,
            "headers": {
                "Location": {
                    "description": "新建资源的地址",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "content": {JSON: {"schema": _schema(schema)}},
        }
    }


def _operation(
    division: str, name: str, responses: dict[int | str, Any], **extra: Any
) -> dict[str, Any]:
    info = next(op for op in OPERATIONS if op.name == name)
    return {
        "tags": [info.tag],
        "summary": info.summary,
        "operationId": operation_id(division, info),
        "x-xyb-item": item_code(division, info.item),
        **extra,
        "responses": responses,
    }


def _paths(division: str) -> dict[str, Any]:
    op = _operation
    version = openapi_version(division)
    return {
        "/bdc/records": {
            "get": op(
                division,
                "listEstateRecords",
                {**_ok("该证件号名下的不动产登记记录", "EstateRecordList"), **_errors(400, 404)},
                parameters=[_ref("parameters", "IdNumberQuery")],
            )
        },
        "/bdc/records/{record_id}": {
            "parameters": [_ref("parameters", "RecordId")],
            "get": op(
                division,
                "getEstateRecord",
                {**_ok("不动产登记记录", "EstateRecord"), **_errors(400, 404)},
            ),
        },
        "/gjj/accounts/{id_number}": {
            "parameters": [_ref("parameters", "IdNumberPath")],
            "get": op(
                division,
                "getFundAccount",
                {**_ok("住房公积金个人账户", "FundAccount"), **_errors(400, 404)},
            ),
        },
        "/gjj/accounts/{id_number}/deposits": {
            "parameters": [_ref("parameters", "IdNumberPath")],
            "get": op(
                division,
                "listFundDeposits",
                {**_ok("该年度的月缴存明细", "FundDepositList"), **_errors(400, 404)},
                parameters=[_ref("parameters", "Year")],
            ),
        },
        "/shebao/contributions": {
            "get": op(
                division,
                "listContributions",
                {**_ok("缴费记录（每月每险种一条）", "ContributionList"), **_errors(400, 404)},
                parameters=[
                    _ref("parameters", "IdNumberQuery"),
                    _ref("parameters", "FromMonth"),
                    _ref("parameters", "ToMonth"),
                ],
            )
        },
        "/jzz/applications": {
            "post": op(
                division,
                "createResidencePermitApplication",
                {**_created("已受理", "ResidencePermitApplication"), **_errors(400, 415, 422)},
                description="申领人须已在本市居住满半年；申领事由为就业时须填写就业单位。",
                requestBody={
                    "required": True,
                    "content": {
                        JSON: _media(
                            "ResidencePermitRequest",
                            residence_permit_example(division),
                            "因就业申领居住证",
                            version,
                        )
                    },
                },
            )
        },
        "/jzz/applications/{application_id}": {
            "parameters": [_ref("parameters", "ApplicationId")],
            "get": op(
                division,
                "getResidencePermitApplication",
                {
                    **_ok("居住证申领及其办理状态", "ResidencePermitApplication"),
                    **_errors(400, 404),
                },
            ),
        },
        "/birth/registrations": {
            "post": op(
                division,
                "createBirthRegistration",
                {**_created("已登记", "BirthRegistration"), **_errors(400, 415, 422)},
                description="父母至少一方须为本市户籍居民；母亲身份号码的性别码为偶数，父亲为奇数。",
                requestBody=_ref("requestBodies", "BirthRegistration"),
            )
        },
        "/birth/registrations/{registration_id}": {
            "parameters": [_ref("parameters", "RegistrationId")],
            "get": op(
                division,
                "getBirthRegistration",
                {**_ok("出生登记结果", "BirthRegistration"), **_errors(400, 404)},
            ),
        },
    }


@cache
def _spec(division: str) -> dict[str, Any]:
    city = d.prefecture(division)
    version = openapi_version(division)
    info: dict[str, Any] = {
        "title": f"{city.name}政务服务接口",
        "version": "2023.11",
        "description": (
            f"{city.name}不动产登记、住房公积金、社会保险、居住证与出生登记服务（模拟系统）。"
            "错误以本系统的JSON格式返回：code 为 E 加 HTTP 状态码。"
        ),
    }
    if version == "3.1.0":
        info["summary"] = f"{city.name}政务服务"
    return {
        "openapi": version,
        "info": info,
        "servers": [
            {
                # 3.1 cities write the URL with a trailing slash, as many real documents do.
                "url": "http://{host}:{port}/" if version == "3.1.0" else "http://{host}:{port}",
                "description": f"{city.name}政务服务系统",
                # The defaults are the city's own address under `xyb demo`: onboarded without an
                # upstream URL, the document leads to the city. (They once named 8000, the
                # gateway's own port: every call came back to the gateway as a loop.)
                "variables": {
                    "host": {"default": "127.0.0.1", "description": "主机"},
                    "port": {"default": str(demo_port(division)), "description": "端口"},
                },
            }
        ],
        "x-xyb-division": division,
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": _paths(division),
        "components": {
            "schemas": _schemas(division, version),
            "parameters": _parameters(division),
            "responses": _responses(),
            "requestBodies": {
                "BirthRegistration": {
                    "required": True,
                    "description": "出生登记表单",
                    "content": {
                        FORM: _media(
                            "BirthRegistrationForm",
                            birth_registration_example(division),
                            "父母均为本市户籍居民",
                            version,
                        )
                    },
                }
            },
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


@cache
def openapi_document(division: str) -> str:
    """City ``division``'s OpenAPI document as YAML (response codes written as integers)."""
    text: str = yaml.dump(
        _spec(division), Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False, width=100
    )
    return text


@cache
def openapi_json(division: str) -> str:
    """The same document as JSON (where response codes are strings, as JSON requires)."""
    return json.dumps(_spec(division), ensure_ascii=False, indent=2)
