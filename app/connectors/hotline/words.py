"""The canonical hotline API's words and the hotline system's codes for them.

The canonical API speaks English identifiers (with the Chinese names beside them in answers);
the 12345 system speaks its own codes (app/simulators/hotline plays it;
contracts/hotline/hotline.contract.yaml says what it promises).
"""

from __future__ import annotations

# channel: the system's 渠道来源 (qdly)
CHANNELS = {"app": "APP", "phone": "RX", "governor-mailbox": "SZXX", "web": "WZ"}
CHANNEL_NAMES = {
    "app": "湘易办",
    "phone": "12345 热线电话",
    "governor-mailbox": "省长信箱",
    "web": "网站",
}
# category: 诉求类型 (sqlx)
CATEGORIES = {
    "consultation": "ZX",
    "help": "QZ",
    "complaint": "TS",
    "report": "JB",
    "suggestion": "JY",
}
CATEGORY_NAMES = {
    "consultation": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
}
# status: 工单状态 (zt), in the closed loop's order
STATUSES = {
    "01": "accepted",
    "02": "dispatched",
    "03": "handling",
    "04": "replied",
    "05": "closed",
    "06": "revisited",
    "07": "rated",
}
STATUS_NAMES = {
    "accepted": "受理",
    "dispatched": "派单",
    "handling": "办理",
    "replied": "回复",
    "closed": "办结",
    "revisited": "回访",
    "rated": "评价",
}
# Before the system has answered the filing (a retry with the same Idempotency-Key sends it).
FILING = "filing"
STATUS_NAMES[FILING] = "提交中"
# A ticket the resident may rate: handled (办结), visited back (回访).
RATEABLE = frozenset({"closed", "revisited"})
DONE = frozenset({"closed", "revisited", "rated"})
# priority: 优先级 (yxj)
PRIORITIES = {"urgent": "1", "high": "2", "normal": "3"}
# 好差评: the five levels, best first; the bottom two are 差评 and open a follow-up.
LEVELS = {
    "very-satisfied": 1,
    "satisfied": 2,
    "basically-satisfied": 3,
    "dissatisfied": 4,
    "very-dissatisfied": 5,
}
LEVEL_NAMES = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
LEVEL_OF = {number: word for word, number in LEVELS.items()}
BAD = frozenset({4, 5})
SATISFIED = frozenset({1, 2, 3})
ZQT = "ZQT"  # the 政企通 desk's handling-unit code
