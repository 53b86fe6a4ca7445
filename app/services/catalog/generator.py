"""A realistic synthetic catalog: items across Hunan's 14 prefectures and provincial departments.

Names are built the way real item lists read, "{事项对象}{动作}" with an optional 情形 in brackets
(住房公积金提取（租赁住房）, 食品经营许可证核发（延续）, 机动车驾驶证换领), from departments' own
subjects and verbs; each verb brings a plausible type, time limit (working days) and result. About
half the items are 一网通办, about a tenth 跨省通办 (mostly social insurance, medical insurance,
housing fund, household registration, driving licences), most are online. Items that must be
there (the demo passes the 84 its city simulators serve) come first. Deterministic per seed.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.core.divisions import HUNAN, divisions
from app.schemas.catalog import ITEM_TYPES

PERSON, LEGAL, BOTH = "person", "legal_person", "both"
_WHO = {"p": PERSON, "l": LEGAL, "b": BOTH}
_TYPES = {
    "许": "行政许可",
    "给": "行政给付",
    "确": "行政确认",
    "裁": "行政裁决",
    "奖": "行政奖励",
    "他": "其他行政权力",
    "公": "公共服务",
}
LICENCE_CASES = ("新办", "变更", "延续", "注销")


@dataclass(frozen=True, slots=True)
class Verb:
    """What is done to the subject: its type, time limit range and result."""

    type: str
    days: tuple[int, int]
    result: str  # "{obj}" is the subject
    cases: tuple[str, ...] = ()  # 情形, each its own item: 提取（租赁住房）


def _v(code: str, low: int, high: int, result: str, cases: tuple[str, ...] = ()) -> Verb:
    """A verb of type code ``code`` (许, 给, …)."""
    return Verb(_TYPES[code], (low, high), result, cases)


VERBS: dict[str, Verb] = {
    # 公共服务: queries on the spot, most others within days.
    "查询": _v("公", 0, 0, "查询结果"),
    "信息查询": _v("公", 0, 0, "查询结果"),
    "缴费记录查询": _v("公", 0, 0, "缴费记录"),
    "个人账户查询": _v("公", 0, 0, "个人账户信息"),
    "个人权益记录查询": _v("公", 0, 0, "个人权益记录单"),
    "缴存明细查询": _v("公", 0, 0, "缴存明细"),
    "进度查询": _v("公", 0, 0, "办理进度"),
    "参保登记": _v("公", 0, 5, "参保登记回执"),
    "停保登记": _v("公", 0, 5, "停保登记回执"),
    "关系转移接续": _v("公", 5, 15, "转移接续结果"),
    "信息变更": _v("公", 0, 5, "变更结果"),
    "缴存登记": _v("公", 0, 3, "缴存登记回执"),
    "账户设立": _v("公", 0, 3, "账户设立回执"),
    "账户转移": _v("公", 1, 10, "账户转移结果"),
    "账户封存": _v("公", 0, 3, "封存结果"),
    "缴存基数调整": _v("公", 0, 5, "调整结果"),
    "缓缴申请": _v("公", 3, 10, "缓缴审批结果"),
    "提取": _v(
        "公",
        1,
        5,
        "提取审批结果",
        ("购买自住住房", "租赁住房", "离休、退休", "偿还购房贷款本息", "出境定居", "大病医疗"),
    ),
    "贷款申请": _v("公", 5, 15, "贷款审批结果"),
    "贷款提前还款": _v("公", 0, 3, "还款结果"),
    "证明开具": _v("公", 0, 3, "{obj}证明"),
    "申领": _v("公", 1, 10, "{obj}"),
    "补办": _v("公", 0, 5, "{obj}"),
    "换发": _v("公", 0, 5, "{obj}"),
    "挂失": _v("公", 0, 1, "挂失回执"),
    "申请": _v("公", 5, 20, "审核结果"),
    "激活": _v("公", 0, 0, "激活结果"),
    "预约": _v("公", 0, 1, "预约回执"),
    "登记备案": _v("公", 0, 1, "备案回执"),
    "咨询": _v("公", 0, 5, "答复意见"),
    "报名": _v("公", 0, 3, "报名回执"),
    "转递": _v("公", 1, 5, "转递通知"),
    "签约": _v("公", 0, 1, "签约回执"),
    "手工报销": _v("公", 10, 20, "报销结算结果"),
    "一次性结算": _v("公", 5, 15, "结算结果"),
    # 行政给付
    "待遇申领": _v("给", 5, 20, "待遇核定结果"),
    "补贴申领": _v("给", 10, 20, "补贴发放结果"),
    "救助申请": _v("给", 10, 30, "救助审批结果"),
    "发放": _v("给", 5, 20, "发放结果"),
    # 行政确认
    "登记": _v("确", 1, 10, "登记证明"),
    "首次登记": _v("确", 5, 15, "不动产权证书"),
    "转移登记": _v("确", 3, 10, "不动产权证书"),
    "变更登记": _v("确", 3, 10, "登记证明"),
    "抵押登记": _v("确", 1, 5, "不动产登记证明"),
    "注销登记": _v("确", 1, 10, "注销登记证明"),
    "更正登记": _v("确", 5, 15, "登记证明"),
    "预告登记": _v("确", 1, 5, "不动产登记证明"),
    "异议登记": _v("确", 1, 5, "不动产登记证明"),
    "认定": _v("确", 5, 20, "认定结论"),
    "鉴定": _v("确", 15, 60, "鉴定结论"),
    "迁入": _v(
        "确",
        1,
        10,
        "户口迁移结果",
        ("夫妻投靠", "子女投靠父母", "父母投靠子女", "购房落户", "人才引进", "大中专院校毕业生"),
    ),
    "迁出": _v("确", 1, 5, "户口迁移证明"),
    "评定": _v("确", 20, 60, "评定结论"),
    # 行政许可
    "核发": _v("许", 5, 20, "{obj}", LICENCE_CASES),
    "审批": _v("许", 10, 20, "准予行政许可决定书"),
    "核准": _v("许", 10, 20, "核准决定书"),
    "许可": _v("许", 10, 20, "准予行政许可决定书"),
    "签发": _v("许", 5, 15, "{obj}"),
    "签注": _v("许", 5, 10, "签注"),
    "换领": _v("许", 1, 10, "{obj}"),
    "补领": _v("许", 1, 10, "{obj}"),
    "审验": _v("许", 1, 5, "审验结果"),
    "注册": _v("许", 10, 20, "执业证书"),
    "设立登记": _v("许", 1, 5, "营业执照"),
    "设立审批": _v("许", 10, 20, "准予设立决定书"),
    # 其他行政权力
    "备案": _v("他", 0, 5, "备案回执"),
    "审核": _v("他", 10, 20, "审核意见"),
    "验收": _v("他", 10, 20, "验收意见"),
    "年度检验": _v("他", 5, 15, "年检结果"),
    # 行政奖励 and 行政裁决
    "奖励": _v("奖", 20, 60, "奖励决定"),
    "表彰": _v("奖", 20, 60, "表彰决定"),
    "裁决": _v("裁", 30, 60, "行政裁决书"),
    "仲裁": _v("裁", 30, 45, "仲裁裁决书"),
}


@dataclass(frozen=True, slots=True)
class Subject:
    """What an item is about, who applies for it, and what can be done to it."""

    obj: str
    who: str
    verbs: tuple[tuple[str, str | None, tuple[str, ...]], ...]  # (verb, type override, cases)


@dataclass(frozen=True, slots=True)
class Domain:
    """A kind of department: its names at the two levels, its laws, materials and subjects."""

    key: str
    city: str  # "{city}" is the prefecture's name
    province: str | None  # None: no provincial department handles it
    laws: tuple[str, ...]
    materials: tuple[str, ...]
    conditions: tuple[str, ...]
    cross: bool  # a candidate for 跨省通办
    subjects: tuple[Subject, ...]


def _subjects(text: str) -> tuple[Subject, ...]:
    """Parse "对象 p|l|b 动作 动作@许 动作[情形/情形]" lines (@: the type; []: own cases)."""
    found: list[Subject] = []
    for line in text.strip().splitlines():
        obj, who, *verbs = line.split()
        parsed = []
        for verb in verbs:
            head, _, override = verb.partition("@")
            name, _, cases = head.partition("[")
            own = tuple(c for c in cases.rstrip("]").split("/") if c)
            parsed.append((name, _TYPES[override] if override else None, own))
        found.append(Subject(obj, _WHO[who], tuple(parsed)))
    return tuple(found)


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "RS",
        "{city}人力资源和社会保障局",
        "省人社厅",
        (
            "《中华人民共和国社会保险法》",
            "《中华人民共和国劳动法》",
            "《中华人民共和国就业促进法》",
            "《工伤保险条例》",
            "《失业保险条例》",
            "《湖南省实施〈中华人民共和国社会保险法〉办法》",
        ),
        (
            "社会保障卡",
            "参保人员登记表",
            "银行账户信息",
            "劳动合同",
            "解除或终止劳动关系证明",
            "户口簿",
            "诊断证明",
            "近期免冠照片",
        ),
        (
            "申请人在本市依法参加社会保险",
            "用人单位依法登记并为职工缴纳社会保险费",
            "申请人符合国家和省规定的待遇领取条件",
        ),
        True,
        _subjects(
            """
            城乡居民基本养老保险 p 参保登记 待遇申领 关系转移接续[跨省/省内/城乡居民转职工]
            城乡居民基本养老保险 p 缴费记录查询 信息变更 停保登记
            企业职工基本养老保险 p 参保登记[单位参保/个人参保]
            企业职工基本养老保险 p 待遇申领[正常退休/特殊工种提前退休/因病提前退休]
            企业职工基本养老保险 p 关系转移接续[跨省/省内] 个人账户查询 个人权益记录查询
            机关事业单位养老保险 p 参保登记 待遇申领 关系转移接续
            职业年金 p 个人账户查询 待遇申领
            失业保险金 p 待遇申领[线上申领/线下申领]
            失业保险 b 参保登记 关系转移接续 停保登记
            失业人员稳岗返还 l 补贴申领
            工伤保险 b 参保登记 待遇申领 停保登记
            工伤 p 认定[用人单位申请/个人申请]
            劳动能力 p 鉴定
            社会保障卡 p 申领 补办 换发 挂失 激活 信息变更
            电子社会保障卡 p 激活 查询
            就业创业证 p 申领 补办 信息查询
            就业困难人员 p 认定
            灵活就业人员社会保险 p 补贴申领 参保登记
            一次性创业补贴 p 补贴申领
            职业技能提升补贴 p 补贴申领
            高校毕业生就业见习补贴 l 补贴申领
            职业技能等级证书 p 查询 补办
            专业技术人员职业资格证书 p 查询 补办
            专业技术职务任职资格 p 评定
            劳动人事争议 b 仲裁
            人力资源服务许可证 l 核发
            劳务派遣经营许可证 l 核发
            民办职业培训学校 l 设立审批
            企业实行不定时工作制和综合计算工时工作制 l 审批
            社会保险待遇资格 p 认定
            社会保险参保缴费 b 证明开具
            城乡居民基本养老保险丧葬补助金 p 待遇申领
            企业职工基本养老保险丧葬补助金和抚恤金 p 待遇申领
            企业职工基本养老保险病残津贴 p 待遇申领
            基本养老保险个人账户一次性待遇 p 待遇申领
            失业保险丧葬补助金和抚恤金 p 待遇申领
            失业人员价格临时补贴 p 补贴申领
            一次性工伤医疗补助金 p 待遇申领
            工伤职工辅助器具配置 p 审核@公
            工伤保险待遇 p 信息查询
            就业困难人员社会保险补贴 b 补贴申领
            求职创业补贴 p 补贴申领
            创业担保贷款 p 贷款申请 进度查询
            用人单位招用人员 l 登记备案
            流动人员人事档案 p 转递 查询 证明开具
            养老保险待遇 p 证明开具 信息查询
            离退休人员基本养老金 p 信息查询
            职业培训补贴 b 补贴申领
            技能人才评价机构 l 备案
            """
        ),
    ),
    Domain(
        "TIY",
        "{city}体育局",
        "省体育局",
        ("《中华人民共和国体育法》", "《全民健身条例》", "《经营高危险性体育项目许可管理办法》"),
        ("申请书", "营业执照", "场地产权或使用证明", "社会体育指导人员资格证明", "救护人员名单"),
        ("申请人具备相应场地、设施和人员条件",),
        False,
        _subjects(
            """
            高危险性体育项目经营 l 许可
            社会体育指导员 p 认定
            公共体育场馆 p 预约
            体育类社会组织 l 审核
            运动员技术等级 p 认定
            全民健身赛事活动 b 报名
            """
        ),
    ),
    Domain(
        "DA",
        "{city}档案馆",
        "省档案馆",
        ("《中华人民共和国档案法》", "《中华人民共和国档案法实施条例》"),
        ("居民身份证", "查档申请表", "授权委托书", "单位介绍信"),
        ("查档人为档案形成者本人或其委托人",),
        False,
        _subjects(
            """
            档案 b 查询 证明开具
            婚姻档案 p 查询
            知青档案 p 查询
            招工档案 p 查询
            """
        ),
    ),
    Domain(
        "RF",
        "{city}人民防空办公室",
        "省人防办",
        ("《中华人民共和国人民防空法》", "《湖南省实施〈中华人民共和国人民防空法〉办法》"),
        ("申请书", "建设工程规划许可证", "人防工程设计文件", "营业执照"),
        ("建设项目依法应当修建防空地下室",),
        False,
        _subjects(
            """
            防空地下室易地建设 l 审批
            人民防空工程施工图设计文件 l 备案
            人民防空工程竣工 l 验收
            人民防空警报设施拆除 l 审批
            """
        ),
    ),
    Domain(
        "GX",
        "{city}工业和信息化局",
        "省工信厅",
        (
            "《中华人民共和国中小企业促进法》",
            "《中华人民共和国节约能源法》",
            "《企业技术改造投资项目备案管理办法》",
        ),
        ("申请书", "营业执照", "项目可行性研究报告", "财务审计报告"),
        ("申请企业依法登记且生产经营正常",),
        False,
        _subjects(
            """
            工业企业技术改造投资项目 l 备案
            专精特新中小企业 l 认定
            省级企业技术中心 l 认定
            中小企业发展专项资金 l 补贴申领
            民用爆炸物品销售许可证 l 核发
            """
        ),
    ),
    Domain(
        "TJ",
        "{city}统计局",
        "省统计局",
        ("《中华人民共和国统计法》", "《中华人民共和国统计法实施条例》"),
        ("申请书", "统计调查方案", "调查表式", "营业执照"),
        ("统计调查项目符合国家统计调查制度",),
        False,
        _subjects(
            """
            部门统计调查项目 l 审批
            涉外统计调查机构资格 l 认定
            统计数据 b 查询
            """
        ),
    ),
    Domain(
        "YB",
        "{city}医疗保障局",
        "省医保局",
        (
            "《中华人民共和国社会保险法》",
            "《医疗保障基金使用监督管理条例》",
            "《湖南省医疗保障条例》",
            "《国务院办公厅关于健全重特大疾病医疗保险和救助制度的意见》",
        ),
        (
            "医保电子凭证或社会保障卡",
            "医疗费用发票",
            "费用明细清单",
            "出院记录",
            "诊断证明",
            "异地就医备案表",
            "居民身份证",
        ),
        ("申请人为本统筹区参保人员且处于正常参保状态", "申请人符合本统筹区医疗保障待遇享受条件"),
        True,
        _subjects(
            """
            城乡居民基本医疗保险 p 参保登记 信息变更 缴费记录查询 停保登记
            职工基本医疗保险 b 参保登记 关系转移接续 个人账户查询 缴费记录查询 信息变更
            基本医疗保险关系 p 关系转移接续
            异地就医 p 登记备案 进度查询
            门诊慢特病病种待遇 p 认定
            生育保险 p 待遇申领
            生育津贴 p 待遇申领
            医疗费用 p 手工报销[门诊/住院/异地就医/生育/特殊药品] 一次性结算
            医保电子凭证 p 激活
            医疗救助 p 救助申请
            定点医药机构 l 认定@确 信息变更
            医疗保障待遇 p 证明开具
            医疗保险 b 参保登记 缴费记录查询 证明开具
            医疗保险个人账户 p 信息查询
            异地安置退休人员 p 登记备案
            异地长期居住人员 p 登记备案
            常驻异地工作人员 p 登记备案
            异地转诊人员 p 登记备案
            新生儿 p 参保登记
            大病保险 p 待遇申领
            城乡居民医疗保险缴费 p 证明开具
            医疗救助对象 p 认定
            长期护理保险 p 待遇申领 参保登记
            """
        ),
    ),
    Domain(
        "GJJ",
        "{city}住房公积金管理中心",
        "省直住房公积金管理中心",
        ("《住房公积金管理条例》", "《湖南省住房公积金管理办法》", "《住房公积金提取业务标准》"),
        (
            "居民身份证",
            "银行卡",
            "购房合同",
            "不动产权证书",
            "房屋租赁合同",
            "婚姻关系证明",
            "单位缴存登记表",
            "借款合同",
        ),
        (
            "申请人在本中心正常缴存住房公积金",
            "申请人符合住房公积金提取或贷款条件",
            "单位已依法办理住房公积金缴存登记",
        ),
        True,
        _subjects(
            """
            住房公积金 p 提取 缴存明细查询 账户转移 证明开具 账户封存 个人账户查询
            个人住房公积金账户 p 账户设立 信息变更
            单位住房公积金 l 缴存登记 缴存基数调整 缓缴申请 信息变更 注销登记@公
            住房公积金个人住房贷款 p 贷款申请[新建商品房/二手房/自建住房/组合贷款]
            住房公积金个人住房贷款 p 贷款提前还款[部分提前还款/全部提前还款] 进度查询
            住房公积金异地转移接续 p 关系转移接续
            住房公积金单位缴存 l 信息查询 证明开具
            住房公积金贷款 p 信息查询 证明开具
            住房公积金贷款还款账户 p 信息变更
            灵活就业人员住房公积金 p 缴存登记 提取
            """
        ),
    ),
    Domain(
        "GA",
        "{city}公安局",
        "省公安厅",
        (
            "《中华人民共和国居民身份证法》",
            "《中华人民共和国户口登记条例》",
            "《中华人民共和国道路交通安全法》",
            "《居住证暂行条例》",
            "《中华人民共和国出境入境管理法》",
            "《机动车驾驶证申领和使用规定》",
            "《机动车登记规定》",
        ),
        (
            "居民身份证",
            "居民户口簿",
            "近期免冠照片",
            "机动车驾驶证",
            "机动车登记证书",
            "机动车行驶证",
            "身体条件证明",
            "出生医学证明",
            "结婚证",
        ),
        ("申请人为本市常住户口居民或符合本市落户条件", "申请人符合法律法规规定的申领条件"),
        True,
        _subjects(
            """
            居民身份证 p 申领[首次申领/异地申领] 换领[有效期满/信息变化/损坏]
            居民身份证 p 补领[遗失/被盗/异地补领] 挂失
            临时居民身份证 p 申领
            户籍 p 证明开具[亲属关系/死亡/户籍注销/曾用名] 信息变更[姓名/民族/出生日期] 注销登记
            户口 p 迁入 迁出
            居民户口簿 p 补领 换领@公
            机动车号牌 b 补领 换领
            电动自行车 p 登记
            外国人居留许可 p 签发
            机动车驾驶人 p 信息变更
            驾驶人安全教育 p 报名
            死亡人员户口 p 注销登记
            居住证 p 签注 补领 换领
            机动车驾驶证 p 换领[有效期满/达到规定年龄/身体条件变化/损毁] 补领[遗失/被盗] 审验
            机动车驾驶证 p 信息查询 注销登记@许
            机动车 b 首次登记@许 转移登记[省内/跨省]@许
            机动车 b 变更登记[车身颜色/发动机/使用性质/住所迁出]@许 抵押登记@许 注销登记@许
            机动车 b 年度检验
            机动车检验合格标志 b 核发
            机动车临时通行牌证 b 核发
            交通违法 b 信息查询
            普通护照 p 签发
            往来港澳通行证 p 签发 签注
            往来台湾通行证 p 签发 签注
            无犯罪记录 p 证明开具
            养犬 p 登记
            剧毒化学品购买许可证 l 核发
            烟花爆竹道路运输许可证 l 核发
            旅馆业特种行业许可证 l 核发
            典当业特种行业许可证 l 核发
            保安服务许可证 l 核发
            公章刻制业特种行业许可证 l 核发
            大型群众性活动安全 l 许可
            互联网上网服务营业场所信息网络安全 l 审核
            """
        ),
    ),
    Domain(
        "SJ",
        "{city}市场监督管理局",
        "省市场监管局",
        (
            "《中华人民共和国市场主体登记管理条例》",
            "《中华人民共和国食品安全法》",
            "《中华人民共和国行政许可法》",
            "《特种设备安全法》",
            "《中华人民共和国计量法》",
            "《中华人民共和国工业产品生产许可证管理条例》",
        ),
        (
            "营业执照",
            "法定代表人身份证明",
            "公司章程",
            "住所使用证明",
            "申请书",
            "经营场所平面图",
            "从业人员健康证明",
            "食品安全管理制度",
        ),
        ("申请人依法取得主体资格", "经营场所符合相关规定", "申请材料齐全、内容真实"),
        False,
        _subjects(
            """
            有限责任公司 l 设立登记[内资/外资/分公司] 变更登记@许 注销登记[普通注销/简易注销]@许
            有限责任公司 l 备案
            股份有限公司 l 设立登记 变更登记@许 注销登记@许
            个体工商户 b 设立登记 变更登记[经营者/名称/经营范围]@许 注销登记@许
            农民专业合作社 l 设立登记 变更登记@许 注销登记@许
            外商投资企业 l 设立登记 变更登记@许
            营业执照 l 补领 换发 信息查询
            食品经营许可证 l 核发
            食品生产许可证 l 核发
            食品小作坊 l 登记
            小餐饮 l 登记
            食品摊贩 p 登记
            特种设备使用 l 登记
            特种设备作业人员资格 p 认定
            特种设备安装改造修理 l 许可
            工业产品生产许可证 l 核发
            计量标准器具 l 核准
            检验检测机构资质 l 认定
            药品经营许可证 l 核发
            第二类医疗器械经营 l 备案
            广告发布 l 登记
            企业名称 l 信息变更 查询
            市场主体 l 信息查询
            市场主体歇业 l 备案
            """
        ),
    ),
    Domain(
        "WJ",
        "{city}卫生健康委员会",
        "省卫健委",
        (
            "《中华人民共和国基本医疗卫生与健康促进法》",
            "《医疗机构管理条例》",
            "《中华人民共和国医师法》",
            "《护士条例》",
            "《中华人民共和国母婴保健法》",
            "《公共场所卫生管理条例》",
            "《中华人民共和国人口与计划生育法》",
        ),
        (
            "申请书",
            "居民身份证",
            "执业证书",
            "医疗机构执业许可证",
            "房屋产权证明或使用证明",
            "设备清单",
            "卫生技术人员名录",
            "出生医学证明首联",
        ),
        ("申请人符合设置规划和执业条件", "申请人具备相应资格条件"),
        False,
        _subjects(
            """
            医疗机构执业许可证 l 核发
            医疗机构 l 设立审批
            诊所 l 备案
            医师执业 p 注册[首次注册/多机构备案/重新注册] 变更登记@许 注销登记@许
            护士执业 p 注册 变更登记@许
            外国医师来华短期行医 p 许可
            出生医学证明 p 签发[医疗机构内出生/医疗机构外出生] 补办 换发
            母婴保健技术服务执业许可证 l 核发
            放射诊疗许可证 l 核发
            公共场所卫生许可证 l 核发
            饮用水供水单位卫生许可证 l 核发
            消毒产品生产企业卫生许可证 l 核发
            计划生育家庭特别扶助金 p 待遇申领
            农村部分计划生育家庭奖励扶助金 p 待遇申领
            独生子女父母光荣证 p 申领 补办
            预防接种 p 预约 信息查询
            婚前医学检查 p 预约
            职业病诊断机构 l 备案
            无偿献血者用血费用 p 手工报销
            医疗纠纷 b 咨询
            母子健康手册 p 申领
            家庭医生 p 签约
            老年人健康体检 p 预约
            适龄妇女两癌筛查 p 预约
            医疗机构 l 信息查询
            医师资格 p 信息查询
            """
        ),
    ),
    Domain(
        "ZJ",
        "{city}住房和城乡建设局",
        "省住建厅",
        (
            "《中华人民共和国建筑法》",
            "《中华人民共和国城市房地产管理法》",
            "《建设工程质量管理条例》",
            "《城镇燃气管理条例》",
            "《公共租赁住房管理办法》",
            "《商品房屋租赁管理办法》",
        ),
        (
            "申请表",
            "营业执照",
            "建设工程规划许可证",
            "施工合同",
            "资质证书",
            "安全生产许可证",
            "房屋租赁合同",
            "家庭收入证明",
        ),
        ("建设工程依法取得规划许可", "申请单位具备相应资质", "申请家庭符合本市住房保障条件"),
        False,
        _subjects(
            """
            建筑工程施工许可证 l 核发
            商品房预售许可证 l 核发
            建筑业企业资质 l 核准 变更登记@许
            房地产开发企业资质 l 核准 变更登记@许
            工程监理企业资质 l 核准
            建设工程消防设计 l 审核
            建设工程消防 l 验收 备案
            建设工程竣工 l 验收 备案
            城镇燃气经营许可证 l 核发
            燃气燃烧器具安装维修企业资质 l 核准
            公共租赁住房 p 申请 进度查询
            公共租赁住房资格 p 证明开具
            住房租赁合同 b 登记备案
            商品房买卖合同 b 登记备案
            住房保障资格 p 认定
            城镇老旧小区改造 b 咨询
            建筑施工特种作业人员 p 认定
            二级建造师执业 p 注册 变更登记@许
            """
        ),
    ),
    Domain(
        "BDC",
        "{city}不动产登记中心",
        None,
        ("《不动产登记暂行条例》", "《不动产登记暂行条例实施细则》", "《中华人民共和国民法典》"),
        (
            "不动产登记申请书",
            "居民身份证",
            "不动产权证书",
            "买卖合同",
            "完税凭证",
            "抵押合同",
            "主债权合同",
            "不动产权籍调查成果",
        ),
        ("申请人为不动产权利人或利害关系人", "不动产权属清楚、界址清晰"),
        False,
        _subjects(
            """
            国有建设用地使用权 l 首次登记 转移登记 变更登记 注销登记
            国有建设用地使用权及房屋所有权 b 首次登记[新建商品房/自建房]
            国有建设用地使用权及房屋所有权 b 转移登记[买卖/继承/赠与/互换/分割合并/法院判决]
            国有建设用地使用权及房屋所有权 b 变更登记[权利人姓名或名称/面积/用途]
            国有建设用地使用权及房屋所有权 b 抵押登记[一般抵押/最高额抵押]
            国有建设用地使用权及房屋所有权 b 注销登记[抵押权/房屋灭失] 更正登记
            宅基地使用权及房屋所有权 p 首次登记 转移登记 变更登记
            集体土地所有权 l 首次登记 变更登记
            土地承包经营权 p 首次登记 转移登记
            林权 b 首次登记 转移登记
            预购商品房 p 预告登记 抵押登记
            不动产 b 异议登记 查询 证明开具 补领@确 换发@确
            不动产登记资料 b 查询
            """
        ),
    ),
    Domain(
        "ZR",
        "{city}自然资源和规划局",
        "省自然资源厅",
        (
            "《中华人民共和国土地管理法》",
            "《中华人民共和国城乡规划法》",
            "《中华人民共和国矿产资源法》",
            "《中华人民共和国测绘法》",
        ),
        ("申请书", "营业执照", "建设项目批准文件", "用地红线图", "设计方案", "土地权属证明"),
        ("建设项目符合国土空间规划", "申请人具备相应资质"),
        False,
        _subjects(
            """
            建设用地规划许可证 l 核发
            建设工程规划许可证 l 核发
            乡村建设规划许可证 b 核发
            建设项目用地预审与选址意见书 l 核发
            采矿许可证 l 核发
            探矿权 l 审批
            测绘资质 l 审批
            土地权属争议 b 裁决
            地质灾害危险性评估 l 备案
            临时用地 l 审批
            """
        ),
    ),
    Domain(
        "JT",
        "{city}交通运输局",
        "省交通运输厅",
        (
            "《中华人民共和国道路运输条例》",
            "《中华人民共和国公路法》",
            "《出租汽车经营服务管理规定》",
            "《网络预约出租汽车经营服务管理暂行办法》",
        ),
        ("申请表", "营业执照", "驾驶证", "从业资格证", "车辆行驶证", "安全生产管理制度"),
        ("申请人具备相应经营条件和安全生产条件", "驾驶员具有相应准驾车型的驾驶证"),
        False,
        _subjects(
            """
            道路旅客运输经营许可证 l 核发
            道路货物运输经营许可证 l 核发
            道路运输从业人员从业资格证 p 核发[旅客运输驾驶员/货物运输驾驶员/危险货物运输驾驶员]
            道路运输从业人员从业资格证 p 换领 补领
            出租汽车驾驶员从业资格证 p 核发
            网络预约出租汽车运输证 b 核发
            网络预约出租汽车驾驶员证 p 核发
            机动车维修经营 l 备案
            机动车驾驶员培训 l 备案
            公路超限运输 b 许可
            涉路施工 l 许可
            道路运输证 b 换发@许 补办@许
            船员适任证书 p 核发
            """
        ),
    ),
    Domain(
        "MZ",
        "{city}民政局",
        "省民政厅",
        (
            "《婚姻登记条例》",
            "《社会救助暂行办法》",
            "《社会团体登记管理条例》",
            "《民办非企业单位登记管理暂行条例》",
            "《养老机构管理办法》",
            "《殡葬管理条例》",
        ),
        (
            "居民身份证",
            "居民户口簿",
            "近期半身免冠合影照片",
            "家庭收入证明",
            "申请书",
            "章程草案",
            "验资报告",
            "住所使用证明",
        ),
        ("申请人符合法律法规规定的条件", "申请家庭人均收入低于当地最低生活保障标准"),
        True,
        _subjects(
            """
            结婚 p 登记[内地居民/涉外/涉港澳台/华侨]
            离婚 p 登记[内地居民/涉外/涉港澳台/华侨]
            婚姻登记证 p 补领@确
            婚姻状况 p 证明开具
            最低生活保障 p 救助申请[城市/农村]
            特困人员救助供养 p 救助申请[城市/农村]
            临时救助 p 救助申请
            困难残疾人生活补贴 p 补贴申领
            重度残疾人护理补贴 p 补贴申领
            高龄津贴 p 补贴申领
            孤儿基本生活费 p 发放
            社会团体 l 登记 变更登记 注销登记
            民办非企业单位 l 登记 变更登记 注销登记
            基金会 l 登记 变更登记
            养老机构 l 备案
            殡葬补贴 p 补贴申领
            收养 p 登记
            地名 b 审批 信息查询
            婚姻登记 p 预约
            慈善组织 l 认定
            公开募捐资格 l 审批
            经济困难老年人养老服务补贴 p 补贴申领
            低收入人口 p 认定
            事实无人抚养儿童基本生活补贴 p 补贴申领
            """
        ),
    ),
    Domain(
        "JY",
        "{city}教育局",
        "省教育厅",
        (
            "《中华人民共和国教育法》",
            "《中华人民共和国教师法》",
            "《教师资格条例》",
            "《中华人民共和国民办教育促进法》",
            "《中华人民共和国义务教育法》",
        ),
        (
            "居民身份证",
            "学历证书",
            "普通话水平测试等级证书",
            "体检合格证明",
            "户口簿",
            "房产证明",
            "申请书",
            "办学章程",
        ),
        ("申请人符合教师资格认定条件", "适龄儿童户籍或居住地在本学区"),
        False,
        _subjects(
            """
            教师资格 p 认定[幼儿园/小学/初级中学/高级中学/中等职业学校] 补领@确
            民办学校 l 设立审批 变更登记@许 注销登记@许
            校外培训机构 l 审批 变更登记@许
            义务教育入学 p 登记[小学/初中/随迁子女] 报名
            学生资助 p 申请@给
            学历 p 证明开具 信息查询
            中等职业学校学籍 p 信息查询
            普通话水平测试 p 报名
            中小学教师 p 表彰
            高中阶段学校招生 p 报名
            学前教育资助 p 申请@给
            家庭经济困难学生 p 认定
            中小学生转学 p 登记@公
            国家助学贷款 p 贷款申请
            """
        ),
    ),
    Domain(
        "SW",
        "国家税务总局{city}税务局",
        "国家税务总局湖南省税务局",
        (
            "《中华人民共和国税收征收管理法》",
            "《中华人民共和国个人所得税法》",
            "《中华人民共和国发票管理办法》",
            "《中华人民共和国增值税暂行条例》",
        ),
        ("营业执照", "经办人身份证件", "税务登记表", "财务会计报表", "发票领用簿"),
        ("纳税人已办理税务信息确认", "纳税人无欠税和未结案件"),
        True,
        _subjects(
            """
            增值税发票 l 申领 核发@许
            税务登记 l 信息变更 注销登记@他
            纳税 b 证明开具
            个人所得税综合所得 p 一次性结算 信息查询
            车辆购置税 b 一次性结算 证明开具
            社会保险费 b 缴费记录查询
            跨区域涉税事项 l 登记备案
            出口退税 l 登记备案 审核
            税收优惠 l 备案
            """
        ),
    ),
    Domain(
        "TY",
        "{city}退役军人事务局",
        "省退役军人事务厅",
        ("《中华人民共和国退役军人保障法》", "《军人抚恤优待条例》", "《烈士褒扬条例》"),
        ("退役证", "居民身份证", "户口簿", "伤残证件", "申请书"),
        ("申请人为本市户籍退役军人或其他优抚对象",),
        False,
        _subjects(
            """
            退役士兵自主就业一次性经济补助 p 发放
            退役军人优待证 p 申领
            伤残等级 p 评定
            优抚对象抚恤补助 p 发放
            烈士褒扬金 p 发放
            退役军人 p 信息查询 登记
            """
        ),
    ),
    Domain(
        "CL",
        "{city}残疾人联合会",
        "省残联",
        ("《中华人民共和国残疾人保障法》", "《中华人民共和国残疾人证管理办法》"),
        ("居民身份证", "户口簿", "近期免冠照片", "残疾评定表", "残疾人证"),
        ("申请人为本市户籍残疾人",),
        False,
        _subjects(
            """
            残疾人证 p 申领[视力残疾/听力残疾/肢体残疾/智力残疾/精神残疾] 换领@公 补领@公
            残疾人证 p 注销登记@公 信息变更
            残疾人辅助器具 p 补贴申领
            残疾人职业培训 p 报名
            残疾儿童康复救助 p 救助申请
            """
        ),
    ),
    Domain(
        "HJ",
        "{city}生态环境局",
        "省生态环境厅",
        (
            "《中华人民共和国环境保护法》",
            "《中华人民共和国环境影响评价法》",
            "《排污许可管理条例》",
            "《放射性同位素与射线装置安全和防护条例》",
        ),
        ("申请表", "环境影响报告书", "营业执照", "监测报告", "污染防治设施说明"),
        ("项目符合生态环境准入要求",),
        False,
        _subjects(
            """
            排污许可证 l 核发
            建设项目环境影响报告书 l 审批
            建设项目环境影响报告表 l 审批
            建设项目环境影响登记表 l 备案
            危险废物经营许可证 l 核发
            辐射安全许可证 l 核发
            突发环境事件应急预案 l 备案
            """
        ),
    ),
    Domain(
        "NY",
        "{city}农业农村局",
        "省农业农村厅",
        (
            "《中华人民共和国农业法》",
            "《农药管理条例》",
            "《兽药管理条例》",
            "《中华人民共和国动物防疫法》",
            "《中华人民共和国种子法》",
        ),
        ("申请表", "营业执照", "经营场所证明", "技术人员资格证明", "购机发票"),
        ("申请人具备相应经营条件",),
        False,
        _subjects(
            """
            农药经营许可证 l 核发
            兽药经营许可证 l 核发
            动物防疫条件合格证 l 核发
            动物诊疗许可证 l 核发
            种子生产经营许可证 l 核发
            农作物种子 l 备案
            拖拉机和联合收割机驾驶证 p 核发 换领
            拖拉机和联合收割机 b 登记
            农机购置补贴 b 补贴申领
            耕地地力保护补贴 p 补贴申领
            农村土地承包经营纠纷 b 仲裁
            """
        ),
    ),
    Domain(
        "WL",
        "{city}文化旅游广电局",
        "省文旅厅",
        (
            "《营业性演出管理条例》",
            "《娱乐场所管理条例》",
            "《旅行社条例》",
            "《互联网上网服务营业场所管理条例》",
        ),
        ("申请表", "营业执照", "场所产权或租赁证明", "消防安全检查合格证明", "演出合同"),
        ("申请人具备相应经营条件",),
        False,
        _subjects(
            """
            娱乐场所经营 l 许可
            营业性演出 l 审批
            旅行社业务经营 l 许可
            互联网上网服务营业场所经营单位 l 设立审批
            导游证 p 核发
            文物保护单位修缮 l 审批
            广播电视节目制作经营 l 许可
            卫星电视广播地面接收设施 l 审批
            """
        ),
    ),
    Domain(
        "YJ",
        "{city}应急管理局",
        "省应急管理厅",
        ("《中华人民共和国安全生产法》", "《危险化学品安全管理条例》", "《烟花爆竹安全管理条例》"),
        ("申请书", "营业执照", "安全评价报告", "安全管理制度", "特种作业人员证书"),
        ("申请单位具备安全生产条件",),
        False,
        _subjects(
            """
            危险化学品经营许可证 l 核发
            烟花爆竹经营（零售）许可证 l 核发
            烟花爆竹经营（批发）许可证 l 核发
            特种作业操作证 p 核发[电工作业/焊接与热切割作业/高处作业/制冷与空调作业]
            特种作业操作证 p 换领 补领
            安全生产许可证 l 核发
            生产安全事故应急预案 l 备案
            安全生产 b 奖励
            """
        ),
    ),
    Domain(
        "SL",
        "{city}水利局",
        "省水利厅",
        (
            "《中华人民共和国水法》",
            "《取水许可和水资源费征收管理条例》",
            "《中华人民共和国水土保持法》",
            "《中华人民共和国河道管理条例》",
        ),
        ("申请书", "建设项目批准文件", "水资源论证报告", "水土保持方案", "营业执照"),
        ("项目符合流域和区域水资源规划",),
        False,
        _subjects(
            """
            取水 l 许可
            河道管理范围内建设项目工程建设方案 l 审批
            生产建设项目水土保持方案 l 审批
            生产建设项目水土保持设施 l 验收
            水事纠纷 b 裁决
            水利工程质量检测单位资质 l 认定
            """
        ),
    ),
    Domain(
        "LY",
        "{city}林业局",
        "省林业局",
        (
            "《中华人民共和国森林法》",
            "《中华人民共和国野生动物保护法》",
            "《中华人民共和国种子法》",
        ),
        ("申请书", "林权证明", "伐区调查设计", "营业执照", "野生动物来源证明"),
        ("申请人为林木所有者或经营者",),
        False,
        _subjects(
            """
            林木采伐许可证 b 核发
            林草种子生产经营许可证 l 核发
            使用林地 l 审核
            野生动物人工繁育许可证 l 核发
            林木林地权属争议 b 裁决
            植物检疫证书 b 核发
            """
        ),
    ),
    Domain(
        "SF",
        "{city}司法局",
        "省司法厅",
        (
            "《中华人民共和国法律援助法》",
            "《中华人民共和国律师法》",
            "《中华人民共和国公证法》",
            "《中华人民共和国人民调解法》",
        ),
        ("居民身份证", "经济困难状况说明", "与所申请法律援助事项有关的材料", "执业申请书"),
        ("申请人经济困难且符合法律援助范围",),
        False,
        _subjects(
            """
            法律援助 p 申请 进度查询
            律师执业 p 许可 变更登记@许 注销登记@许
            律师事务所 l 设立审批
            公证员执业 p 审核
            基层法律服务工作者执业 p 核准
            司法鉴定人执业 p 登记
            人民调解 b 咨询
            """
        ),
    ),
    Domain(
        "SWU",
        "{city}商务局",
        "省商务厅",
        (
            "《中华人民共和国对外贸易法》",
            "《单用途商业预付卡管理办法（试行）》",
            "《报废机动车回收管理办法》",
            "《成品油市场管理办法》",
        ),
        ("营业执照", "备案登记表", "法定代表人身份证明", "经营场所证明"),
        ("申请人依法设立并具备经营条件",),
        False,
        _subjects(
            """
            对外贸易经营者 l 备案
            单用途商业预付卡发卡企业 l 备案
            报废机动车回收拆解企业资格 l 认定
            成品油零售经营资格 l 审批
            外商投资企业 l 信息查询
            拍卖企业 l 许可
            """
        ),
    ),
    Domain(
        "KJ",
        "{city}科学技术局",
        "省科技厅",
        (
            "《中华人民共和国科学技术进步法》",
            "《国家科学技术奖励条例》",
            "《高新技术企业认定管理办法》",
        ),
        ("申请书", "营业执照", "知识产权证明", "研发费用专项审计报告", "推荐书"),
        ("申请单位依法注册满一年并具备研发能力",),
        False,
        _subjects(
            """
            高新技术企业 l 认定
            科技型中小企业 l 评定@确
            科学技术进步 b 奖励
            技术合同 b 登记
            外国人来华工作 p 许可
            """
        ),
    ),
    Domain(
        "FG",
        "{city}发展和改革委员会",
        "省发展改革委",
        (
            "《企业投资项目核准和备案管理条例》",
            "《中华人民共和国价格法》",
            "《中华人民共和国节约能源法》",
        ),
        ("项目申请报告", "营业执照", "节能报告", "项目备案表"),
        ("项目符合国家产业政策",),
        False,
        _subjects(
            """
            企业投资项目 l 核准 备案
            固定资产投资项目节能 l 审核
            政府定价 b 咨询
            """
        ),
    ),
    Domain(
        "YC",
        "{city}烟草专卖局",
        "省烟草专卖局",
        ("《中华人民共和国烟草专卖法》", "《中华人民共和国烟草专卖法实施条例》"),
        ("申请表", "营业执照", "经营场所证明", "居民身份证"),
        ("申请人具备相应经营场所和资金",),
        False,
        _subjects(
            """
            烟草专卖零售许可证 b 核发
            烟草专卖批发企业许可证 l 核发
            """
        ),
    ),
    Domain(
        "XF",
        "{city}消防救援支队",
        "省消防救援总队",
        ("《中华人民共和国消防法》", "《消防监督检查规定》"),
        ("申请表", "营业执照", "场所平面布置图", "消防安全制度"),
        ("场所符合消防技术标准",),
        False,
        _subjects(
            """
            公众聚集场所投入使用、营业前消防安全检查 l 许可
            消防 b 咨询 表彰
            """
        ),
    ),
    Domain(
        "QX",
        "{city}气象局",
        "省气象局",
        ("《中华人民共和国气象法》", "《气象灾害防御条例》", "《防雷减灾管理办法》"),
        ("申请书", "设计文件", "营业执照"),
        ("项目依法需要防雷审核",),
        False,
        _subjects(
            """
            雷电防护装置设计 l 审核
            雷电防护装置竣工 l 验收
            升放无人驾驶自由气球或者系留气球活动 b 审批
            气象信息 b 查询
            """
        ),
    ),
)

_NUMERALS = "零一二三四五六七八九"
COMPLETE = "；申请材料齐全、符合法定形式。"


def chinese_number(n: int) -> str:
    """1-99 in Chinese numerals (第十六条)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _NUMERALS[ones]
    head = "" if tens == 1 else _NUMERALS[tens]
    return f"{head}十{_NUMERALS[ones] if ones else ''}"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One item name a department of a domain can have, with what it implies."""

    index: int
    domain: Domain
    name: str
    base: str  # the name without its case
    obj: str
    who: str
    verb: Verb
    type: str


def join_name(obj: str, verb: str) -> str:
    """对象 + 动作, said once where they overlap (农机购置补贴 + 补贴申领: 农机购置补贴申领)."""
    for size in range(min(len(obj), len(verb) - 1), 1, -1):
        if obj.endswith(verb[:size]):
            return obj + verb[size:]
    return obj + verb


@cache
def patterns() -> tuple[Pattern, ...]:
    """Every name pattern, each with its domain, subject, verb and type."""
    found: list[Pattern] = []
    for domain in DOMAINS:
        for subject in domain.subjects:
            for verb_name, override, own_cases in subject.verbs:
                verb = VERBS[verb_name]
                base = join_name(subject.obj, verb_name)
                cases = own_cases or verb.cases
                for name in (base, *(f"{base}（{case}）" for case in cases)):
                    found.append(
                        Pattern(
                            len(found),
                            domain,
                            name,
                            base,
                            subject.obj,
                            subject.who,
                            verb,
                            override or verb.type,
                        )
                    )
    return tuple(found)


def short_name(code: str) -> str:
    """A prefecture's name as its departments carry it (湘西州)."""
    name = divisions()[code].name
    return "湘西州" if code == "433100" else name


def department_name(domain: Domain, division: str) -> str | None:
    """The department of ``domain`` in ``division`` (None: the province has none)."""
    if division == HUNAN:
        return domain.province
    return domain.city.format(city=short_name(division))


def _legal_basis(rng: random.Random, domain: Domain) -> str:
    """One or two of the domain's laws, with an article."""
    laws = rng.sample(domain.laws, k=min(len(domain.laws), rng.choice((1, 1, 2))))
    return "；".join(f"{law}第{chinese_number(rng.randint(2, 80))}条" for law in laws)


def _materials(rng: random.Random, pattern: Pattern) -> list[str]:
    """The application form, proof of identity and some of the domain's materials."""
    if pattern.verb.days == (0, 0):
        return [] if rng.random() < 0.4 else ["居民身份证" if pattern.who != LEGAL else "营业执照"]
    identity = {PERSON: "居民身份证", LEGAL: "营业执照", BOTH: "居民身份证或营业执照"}[pattern.who]
    own = [m for m in pattern.domain.materials if m not in ("申请表", "申请书")]
    chosen = rng.sample(own, k=min(len(own), rng.randint(1, 4)))
    extra = ["授权委托书（委托办理的）"] if rng.random() < 0.3 else []
    return list(dict.fromkeys([f"{pattern.base}申请表", identity, *chosen, *extra]))


def _conditions(rng: random.Random, pattern: Pattern) -> str:
    """One of the domain's conditions, and complete materials."""
    condition = rng.choice(pattern.domain.conditions)
    return f"{condition}{COMPLETE}"


def _flags(rng: random.Random, pattern: Pattern) -> tuple[bool, bool, bool]:
    """(online, one_network, cross_province): queries online, 一网通办 about half."""
    query = pattern.verb.days == (0, 0)
    online = query or rng.random() < (0.8 if pattern.type == "行政许可" else 0.9)
    share = 0.8 if query else (0.5 if pattern.type in ("行政许可", "行政裁决") else 0.62)
    one_network = online and rng.random() < share
    cross = online and rng.random() < (0.26 if pattern.domain.cross else 0.02)
    return online, one_network, cross


def _code(division: str, pattern: Pattern) -> str:
    """An opaque, realistic-looking implementation code: 11 + division + org + type + serial."""
    org = zlib.crc32(f"{division}{pattern.domain.key}".encode()) % 100_000_000
    type_digit = str(ITEM_TYPES.index(pattern.type) + 1)
    return f"11{division}{org:08d}{type_digit}{pattern.index:05d}000"


def _item(rng: random.Random, division: str, pattern: Pattern, department: str) -> dict[str, Any]:
    """One generated item of ``pattern`` in ``division``."""
    low, high = pattern.verb.days
    online, one_network, cross = _flags(rng, pattern)
    return {
        "code": _code(division, pattern),
        "name": pattern.name,
        "type": pattern.type,
        "service_object": pattern.who,
        "division": division,
        "department": department,
        "legal_basis": _legal_basis(rng, pattern.domain),
        "acceptance_conditions": _conditions(rng, pattern),
        "materials": _materials(rng, pattern),
        "time_limit_days": rng.randint(low, high),
        "result": pattern.verb.result.format(obj=pattern.obj),
        "online": online,
        "one_network": one_network,
        "cross_province": cross,
    }


class _Pools:
    """Names not yet used, per division, drawn in a seeded random order."""

    def __init__(self, rng: random.Random, taken: dict[str, set[str]]) -> None:
        self._rng = rng
        self._taken = taken
        self._pools: dict[str, list[Pattern]] = {}

    def draw(self, division: str) -> Pattern | None:
        """An unused name pattern of ``division`` (None when all are used)."""
        pool = self._pools.get(division)
        if pool is None:
            level_ok = division != HUNAN
            pool = [
                p
                for p in patterns()
                if (level_ok or p.domain.province is not None)
                and p.name not in self._taken.get(division, ())
            ]
            self._rng.shuffle(pool)
            self._pools[division] = pool
        return pool.pop() if pool else None


def _units() -> tuple[list[str], list[str]]:
    """The province and its prefectures; the counties."""
    prefectures = [d.code for d in divisions().values() if d.level == "prefecture"]
    counties = [d.code for d in divisions().values() if d.level == "county"]
    return [HUNAN, *prefectures], counties


def generate(
    count: int, seed: int, *, first: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """``count`` items, deterministic for ``seed``: ``first`` (items that must be there, such as
    those the demo's city simulators serve), then generated ones with other names."""
    if count < 0:
        raise ValueError("count must be >= 0")
    simulated = list(first[:count])
    taken: dict[str, set[str]] = {}
    for item in simulated:
        taken.setdefault(item["division"], set()).add(item["name"])
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    pools = _Pools(rng, taken)
    main, counties = _units()
    # The province holds about a twelfth of the items, each prefecture about the same share.
    weights = [1.2] + [1.0] * (len(main) - 1)
    items = list(simulated)
    full: set[str] = set()
    for _ in range(count - len(items)):
        pattern = None
        while pattern is None:
            open_units = [u for u in main if u not in full]
            if open_units:
                division = rng.choices(open_units, [weights[main.index(u)] for u in open_units])[0]
            else:  # past about 13,000 items the counties take the rest
                open_counties = [c for c in counties if c not in full]
                if not open_counties:
                    raise ValueError(f"at most {len(items)} distinct items can be generated")
                division = rng.choice(open_counties)
            pattern = pools.draw(division)
            if pattern is None:
                full.add(division)
        department = department_name(pattern.domain, division)
        assert department is not None
        items.append(_item(rng, division, pattern, department))
    return items
