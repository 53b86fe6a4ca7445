"""The hotline's tickets in memory: numbering, the status path, and the history each step appends.

A ticket moves 01 受理 → 02 派单 → 03 办理 → 04 回复 → 05 办结 → 06 回访 → 07 评价; from 03 a unit
may send it back (退回: a new 02 entry, then 03 again). Every transition appends one ``lsjl`` entry
(``xh`` = the previous + 1) and tells the listeners (the outbox queues one callback per entry).
Nothing here runs by itself: the schedule (``schedule.py``) and the control endpoints call
:meth:`HotlineState.advance`; the resident's rating is :meth:`HotlineState.evaluate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.divisions import divisions
from app.simulators.city.api import SHANGHAI, Clock

# Result codes of the hotline's envelope.
OK = "0000"
BAD_PARAMETER = "1001"
NO_SUCH_TICKET = "2001"
REFERENCE_REUSED = "2002"
WRONG_STATUS = "2003"

ACCEPTED = "01"
DISPATCHED = "02"
HANDLING = "03"
REPLIED = "04"
CLOSED = "05"
REVISITED = "06"
RATED = "07"
STATUS_NAMES = {
    ACCEPTED: "受理",
    DISPATCHED: "派单",
    HANDLING: "办理",
    REPLIED: "回复",
    CLOSED: "办结",
    REVISITED: "回访",
    RATED: "评价",
}
# The next status on the path; 06 and 07 wait for the resident (07 only by evaluate).
_NEXT = {
    ACCEPTED: DISPATCHED,
    DISPATCHED: HANDLING,
    HANDLING: REPLIED,
    REPLIED: CLOSED,
    CLOSED: REVISITED,
}
OPEN_STATUSES = frozenset(_NEXT)

CHANNELS = {"APP": "湘易办", "RX": "12345热线电话", "SZXX": "省长信箱", "WZ": "网站"}
CATEGORIES = {"ZX": "咨询", "QZ": "求助", "TS": "投诉", "JB": "举报", "JY": "建议"}
PRIORITIES = {"1": "特急", "2": "紧急", "3": "一般"}
LEVELS = {"1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意"}

PROVINCE = "430000"
# The 政企通 desk: every enterprise ticket goes there, whatever its division.
ZQT = "ZQT"
NUMBER_PREFIX = "HN12345"

# What a unit answers the resident, by category (the 回复 entry's sm when no note is given).
_REPLIES = {
    "ZX": "已向诉求人解答相关政策和办理流程。",
    "QZ": "已协调相关部门为诉求人提供帮助。",
    "TS": "已核实投诉事项，责成责任单位整改并告知诉求人。",
    "JB": "已将举报线索移交主管部门依法查处，并告知诉求人。",
    "JY": "已将建议转交相关部门研究，并向诉求人反馈。",
}
DEFAULT_SEND_BACK_REASON = "非本单位职责，申请退回重新派单"


def handling_unit(xzqh: str, zqt: bool) -> str:
    """The unit a ticket is dispatched to: the 政企通 desk, or the prefecture's sub-centre
    (the province's own code: the provincial centre)."""
    if zqt:
        return ZQT
    if xzqh == PROVINCE:
        return PROVINCE
    return xzqh[:4] + "00"


def unit_name(cbdw: str) -> str:
    """The unit's name as the hotline writes it."""
    if cbdw == ZQT:
        return "湖南省12345政企通服务专席"
    if cbdw == PROVINCE:
        return "湖南省12345热线中心"
    known = divisions().get(cbdw)
    return f"{known.name if known else cbdw}12345热线分中心"


def is_hunan_division(code: str) -> bool:
    """A province, prefecture or county code of Hunan the gateway's division table knows."""
    known = divisions().get(code)
    return known is not None and known.level != "partner" and code.startswith("43")


def is_unit(code: str) -> bool:
    """A unit a ticket can be handled by: the 政企通 desk, the provincial centre, a sub-centre."""
    if code == ZQT:
        return True
    known = divisions().get(code)
    return known is not None and known.level in ("province", "prefecture") and code[:2] == "43"


@dataclass(frozen=True, slots=True)
class Filing:
    """What a create request said (normalised); the same ``wbbh`` must come with the same."""

    wbbh: str
    qdly: str
    sqlx: str
    nr: str
    xzqh: str
    sxbm: str | None
    zqt: bool
    yxj: str
    qymc: str | None
    tyshxydm: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``lsjl`` entry: a transition."""

    xh: int
    zt: str
    sj: str
    cbdw: str
    sm: str

    def as_json(self) -> dict[str, Any]:
        return {
            "xh": self.xh,
            "zt": self.zt,
            "ztmc": STATUS_NAMES[self.zt],
            "sj": self.sj,
            "cbdw": self.cbdw,
            "sm": self.sm,
        }


@dataclass(frozen=True, slots=True)
class Rating:
    myd: str
    pjnr: str
    sj: str

    def as_json(self) -> dict[str, Any]:
        return {"myd": self.myd, "pjnr": self.pjnr, "sj": self.sj}


@dataclass(slots=True)
class Ticket:
    gdbh: str
    filing: Filing
    seq: int  # creation order (1..), which the schedule's send-backs count
    cbdw: str
    zt: str = ACCEPTED
    lsjl: list[Entry] = field(default_factory=list)
    pj: Rating | None = None
    sent_back: bool = False

    @property
    def wbbh(self) -> str:
        return self.filing.wbbh

    @property
    def is_open(self) -> bool:
        """Whether the hotline itself still moves it (06 and 07 wait for the resident)."""
        return self.zt in OPEN_STATUSES

    def as_json(self) -> dict[str, Any]:
        f = self.filing
        return {
            "gdbh": self.gdbh,
            "wbbh": f.wbbh,
            "qdly": f.qdly,
            "sqlx": f.sqlx,
            "nr": f.nr,
            "xzqh": f.xzqh,
            "sxbm": f.sxbm,
            "zqt": f.zqt,
            "yxj": f.yxj,
            "qymc": f.qymc,
            "tyshxydm": f.tyshxydm,
            "cbdw": self.cbdw,
            "zt": self.zt,
            "ztmc": STATUS_NAMES[self.zt],
            "slsj": self.lsjl[0].sj,
            "lsjl": [entry.as_json() for entry in self.lsjl],
            "pj": self.pj.as_json() if self.pj else None,
        }


class CannotAdvance(Exception):
    """The ticket's status allows no such transition; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Told of every transition that happened (not of arranged history): the outbox queues a callback.
Listener = Callable[[Ticket, Entry], None]


@dataclass
class HotlineState:
    """Every ticket one simulator holds, by number and by the gateway's reference."""

    clock: Clock
    tickets: dict[str, Ticket] = field(default_factory=dict)
    by_wbbh: dict[str, str] = field(default_factory=dict)
    # The last number given per day (yyyymmdd), so numbers are deterministic.
    counters: dict[str, int] = field(default_factory=dict)
    created: int = 0
    listeners: list[Listener] = field(default_factory=list)
    # Where each day's numbering starts: a system restarted on the same day (the demo's, whose
    # tickets live only in memory) must not give a number it gave before.
    first_serial: int = 1

    def reset(self) -> None:
        """No tickets, numbering from ``first_serial`` again (the listeners stay)."""
        self.tickets.clear()
        self.by_wbbh.clear()
        self.counters.clear()
        self.created = 0

    def now_text(self) -> str:
        """Now in China, ISO 8601 with its +08:00 offset (seconds)."""
        return self.clock().astimezone(SHANGHAI).isoformat(timespec="seconds")

    def new_number(self) -> str:
        """The next ticket number of today: HN12345 + yyyymmdd + a 6-digit counter (numbers a
        provider state took are skipped)."""
        day = self.clock().astimezone(SHANGHAI).strftime("%Y%m%d")
        number = self.counters.get(day, self.first_serial - 1)
        while True:
            number += 1
            gdbh = f"{NUMBER_PREFIX}{day}{number:06d}"
            if gdbh not in self.tickets:
                self.counters[day] = number
                return gdbh

    def find(self, *, gdbh: str | None = None, wbbh: str | None = None) -> Ticket | None:
        """The ticket with this number and/or reference (both given: it must have both)."""
        if gdbh is not None:
            ticket = self.tickets.get(gdbh)
            if ticket is not None and wbbh is not None and ticket.wbbh != wbbh:
                return None
            return ticket
        if wbbh is not None:
            number = self.by_wbbh.get(wbbh)
            return self.tickets.get(number) if number else None
        return None

    def create(self, filing: Filing, *, gdbh: str | None = None, notify: bool = True) -> Ticket:
        """A new ticket at 01 受理 (the caller checked that ``filing.wbbh`` is unused)."""
        self.created += 1
        ticket = Ticket(
            gdbh=gdbh or self.new_number(),
            filing=filing,
            seq=self.created,
            cbdw=handling_unit(filing.xzqh, filing.zqt),
        )
        self.tickets[ticket.gdbh] = ticket
        self.by_wbbh[filing.wbbh] = ticket.gdbh
        sm = f"工单已受理（{CHANNELS[filing.qdly]}，{CATEGORIES[filing.sqlx]}）"
        # Every entry names the unit the ticket is with from then on (here: the one it will go to).
        self._record(ticket, ACCEPTED, sm, ticket.cbdw, notify)
        return ticket

    def remove(self, ticket: Ticket) -> None:
        self.tickets.pop(ticket.gdbh, None)
        if self.by_wbbh.get(ticket.wbbh) == ticket.gdbh:
            del self.by_wbbh[ticket.wbbh]

    def advance(
        self,
        ticket: Ticket,
        *,
        send_back: bool = False,
        note: str | None = None,
        cbdw: str | None = None,
        notify: bool = True,
    ) -> Entry:
        """One step on the path (or, ``send_back`` from 03, back to 02 with ``cbdw`` or the same
        unit); :class:`CannotAdvance` when the status allows none."""
        if send_back:
            if ticket.zt != HANDLING:
                raise CannotAdvance(
                    f"只有办理中（03）的工单可以退回，该工单状态为{ticket.zt}"
                    f"（{STATUS_NAMES[ticket.zt]}）"
                )
            ticket.sent_back = True
            if cbdw is not None:
                ticket.cbdw = cbdw
            reason = note or DEFAULT_SEND_BACK_REASON
            return self._record(ticket, DISPATCHED, f"退回：{reason}", ticket.cbdw, notify)
        if cbdw is not None:
            raise CannotAdvance("只有退回时可以改派承办单位")
        following = _NEXT.get(ticket.zt)
        if following is None:
            raise CannotAdvance(
                f"工单状态为{ticket.zt}（{STATUS_NAMES[ticket.zt]}），等待诉求人评价，不能推进"
            )
        name = unit_name(ticket.cbdw)
        default = {
            DISPATCHED: f"派单至{name}",
            HANDLING: f"{name}已签收，正在办理",
            REPLIED: f"{name}答复：{_REPLIES[ticket.filing.sqlx]}",
            CLOSED: "工单已办结",
            REVISITED: "已回访诉求人，待诉求人评价",
        }[following]
        return self._record(ticket, following, note or default, ticket.cbdw, notify)

    def evaluate(self, ticket: Ticket, myd: str, pjnr: str, *, notify: bool = True) -> Entry:
        """The resident's rating: 05 or 06 → 07; :class:`CannotAdvance` otherwise."""
        if ticket.pj is not None:
            raise CannotAdvance("该工单已评价")
        if ticket.zt not in (CLOSED, REVISITED):
            raise CannotAdvance(
                f"工单尚未办结（状态{ticket.zt} {STATUS_NAMES[ticket.zt]}），不能评价"
            )
        sj = self.now_text()
        ticket.pj = Rating(myd, pjnr, sj)
        sm = f"诉求人评价：{LEVELS[myd]}" + (f"。{pjnr}" if pjnr else "")
        return self._record(ticket, RATED, sm, ticket.cbdw, notify, sj)

    def _record(
        self,
        ticket: Ticket,
        zt: str,
        sm: str,
        cbdw: str,
        notify: bool,
        sj: str | None = None,
    ) -> Entry:
        entry = Entry(len(ticket.lsjl) + 1, zt, sj or self.now_text(), cbdw, sm)
        ticket.lsjl.append(entry)
        ticket.zt = zt
        if notify:
            for listener in self.listeners:
                listener(ticket, entry)
        return entry
