"""The sub-centres at work: the automatic schedule that moves open tickets along.

While ``auto`` is on, a background task advances every open ticket (01-05) one step each
``stepSeconds``, ``lateFactor`` times slower when its unit is in ``late`` (by default 邵阳 430500
and 娄底 431300, which keep their residents waiting); every ``sendBackEvery``-th ticket, by
creation order, is sent back once from 03 (退回) before it goes on; tickets stop at 06 (回访),
waiting for the resident's rating. A step is timed by the event loop's clock, so a test's fixed
``clock`` (which stamps the entries) does not stop the schedule. Off by default (``xyb demo``
turns it on); ``POST /_sim/schedule`` changes it at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.simulators.hotline.state import HANDLING, HotlineState, Ticket, is_unit

DEFAULT_LATE = ("430500", "431300")
SEND_BACK_REASON = "诉求涉及其他单位职责，申请退回重新派单"


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """How the sub-centres work (``ValueError`` for a value out of range)."""

    auto: bool = False
    step_seconds: float = 5.0
    late: tuple[str, ...] = DEFAULT_LATE
    late_factor: float = 20.0
    send_back_every: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.auto, bool):
            raise ValueError("auto must be true or false")
        for name in ("step_seconds", "late_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{_NAMES[name]} must be a number")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{_NAMES[name]} must be a finite number > 0")
        if isinstance(self.send_back_every, bool) or not isinstance(self.send_back_every, int):
            raise ValueError("sendBackEvery must be an integer")
        if self.send_back_every < 0:
            raise ValueError("sendBackEvery must be >= 0 (0: never)")
        for unit in self.late:
            if not isinstance(unit, str) or not is_unit(unit):
                raise ValueError(
                    f"late must list units (a Hunan prefecture, 430000 or ZQT), not {unit!r}"
                )

    def interval(self, cbdw: str) -> float:
        """Seconds between two steps of a ticket with this unit."""
        return self.step_seconds * (self.late_factor if cbdw in self.late else 1)

    def sends_back(self, ticket: Ticket) -> bool:
        """Whether this ticket is one the schedule sends back (once, from 03)."""
        every = self.send_back_every
        return every > 0 and ticket.seq % every == 0 and not ticket.sent_back

    def updated(self, changes: Mapping[str, Any]) -> ScheduleSettings:
        """These settings with the fields a ``/_sim/schedule`` body gives (its names)."""
        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown schedule fields: {', '.join(unknown)}")
        values = {_FIELDS[name]: value for name, value in changes.items()}
        if "late" in values:
            late = values["late"]
            if not isinstance(late, list):
                raise ValueError("late must be a list of units")
            values["late"] = tuple(late)
        return replace(self, **values)

    def as_json(self) -> dict[str, Any]:
        return {
            "auto": self.auto,
            "stepSeconds": self.step_seconds,
            "late": list(self.late),
            "lateFactor": self.late_factor,
            "sendBackEvery": self.send_back_every,
        }


_FIELDS = {
    "auto": "auto",
    "stepSeconds": "step_seconds",
    "late": "late",
    "lateFactor": "late_factor",
    "sendBackEvery": "send_back_every",
}
_NAMES = {field: name for name, field in _FIELDS.items()}


class Scheduler:
    """Runs the schedule over one hotline's tickets."""

    def __init__(self, state: HotlineState, settings: ScheduleSettings) -> None:
        self.state = state
        self.defaults = settings
        self.settings = settings
        # When each open ticket takes its next step (the event loop's clock).
        self._due: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def configure(self, settings: ScheduleSettings) -> None:
        """New settings; every open ticket's next step is timed afresh from now."""
        self.settings = settings
        self._due.clear()
        self.kick()

    def reset(self) -> None:
        """Back to the settings it was made with."""
        self.configure(self.defaults)

    def touched(self, gdbh: str) -> None:
        """A ticket moved by other means: its next step is a full step from now."""
        self._due.pop(gdbh, None)
        self.kick()

    def step(self, ticket: Ticket) -> None:
        """One scheduled step of ``ticket``: a send-back if it is its turn, else the next."""
        if ticket.zt == HANDLING and self.settings.sends_back(ticket):
            self.state.advance(ticket, send_back=True, note=SEND_BACK_REASON)
        else:
            self.state.advance(ticket)

    def tick(self, now: float) -> float | None:
        """Advance the tickets that are due at ``now``; when the next one is due (None: none)."""
        for gdbh in [g for g in self._due if g not in self.state.tickets]:
            del self._due[gdbh]
        for ticket in list(self.state.tickets.values()):
            if not ticket.is_open:
                self._due.pop(ticket.gdbh, None)
                continue
            due = self._due.get(ticket.gdbh)
            if due is not None and due <= now:
                self.step(ticket)
                due = None
            if ticket.is_open:
                if due is None:
                    self._due[ticket.gdbh] = now + self.settings.interval(ticket.cbdw)
            else:
                self._due.pop(ticket.gdbh, None)
        return min(self._due.values(), default=None)

    def kick(self) -> None:
        """Start the schedule in the running loop when it is on, or wake it (to stop, or to
        time a new ticket)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a loop: the next request starts it
        task = self._task
        running = task is not None and not task.done() and task.get_loop() is loop
        if running:
            assert self._wake is not None
            self._wake.set()
        elif self.settings.auto:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(self._wake), name="hotline schedule")

    async def _run(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while self.settings.auto:
            wake.clear()
            following = self.tick(loop.time())
            if following is None:
                await wake.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, following - loop.time()))

    async def aclose(self) -> None:
        """Stop the schedule's task (in the loop it runs in)."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.wait([task])
