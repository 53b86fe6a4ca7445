"""The hotline's callbacks to the gateway: one event per transition, signed, retried, in order.

Every ``lsjl`` entry queues one event ``{"sjid": "<gdbh>-<xh>", "gdbh", "wbbh", "xh", "zt",
"ztmc", "sj", "cbdw", "sm"}``, POSTed to the callback URL with

- ``X-Hotline-Event: <sjid>``,
- ``X-Hotline-Timestamp: <unix seconds>``,
- ``X-Hotline-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>``.

Each attempt is signed afresh. Its timestamp is the clock's second, but always later than the
event's previous attempt: two attempts within one second (a redelivery right after a delivery)
would otherwise carry the very same signature, which the gateway rightly refuses as a replay.

The automatic sender (a background task, started on first use) delivers the events of one
ticket in ``xh`` order, the next waiting for the previous; it retries connection errors,
timeouts, 5xx and 429 after ``retry_delays`` (the last one repeated), or after the answer's
``Retry-After`` (capped at the longest delay), up to ``max_attempts``; any other 4xx is final
(the event is kept as failed, and the ticket's next event goes on). While the outbox is held,
events queue and nothing is sent automatically; :meth:`Outbox.deliver` sends chosen events now,
in the order given, held or not (a repeated ``sjid`` is a redelivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.simulators.hotline.state import STATUS_NAMES, Entry, Ticket

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Hotline-Event"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16, 30)
DEFAULT_MAX_ATTEMPTS = 20
DEFAULT_TIMEOUT = 10.0

QUEUED = "queued"
DELIVERED = "delivered"
FAILED = "failed"


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Hotline-Signature`` value of ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def event_body(ticket: Ticket, entry: Entry) -> bytes:
    """The callback's raw body (compact UTF-8 JSON: what is signed is what is sent)."""
    body = {
        "sjid": f"{ticket.gdbh}-{entry.xh}",
        "gdbh": ticket.gdbh,
        "wbbh": ticket.wbbh,
        "xh": entry.xh,
        "zt": entry.zt,
        "ztmc": STATUS_NAMES[entry.zt],
        "sj": entry.sj,
        "cbdw": entry.cbdw,
        "sm": entry.sm,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP date); None if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retryable(status: int | None) -> bool:
    """No answer (a connection error or a timeout), 429 or 5xx: the sender tries again."""
    return status is None or status == 429 or status >= 500


@dataclass(slots=True)
class Event:
    """One callback and what happened to it."""

    sjid: str
    gdbh: str
    wbbh: str
    xh: int
    body: bytes
    attempts: int = 0
    state: str = QUEUED
    last_status: int | None = None
    # When the automatic sender may try it (the event loop's clock).
    next_at: float = 0.0
    last_timestamp: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "sjid": self.sjid,
            "gdbh": self.gdbh,
            "xh": self.xh,
            "attempts": self.attempts,
            "state": self.state,
            "lastStatus": self.last_status,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the gateway answered one delivery (``status`` None: no answer, ``error`` says why)."""

    sjid: str
    status: int | None
    body: Any
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        answer = {"sjid": self.sjid, "status": self.status, "body": self.body}
        if self.error is not None:
            answer["error"] = self.error
        return answer


class UnknownEvents(LookupError):
    def __init__(self, sjids: list[str]) -> None:
        super().__init__(", ".join(sjids))
        self.sjids = sjids


class NoCallbackUrl(RuntimeError):
    """The hotline was given no callback URL: there is nowhere to deliver."""


class Outbox:
    """The events of one hotline and their sender."""

    def __init__(
        self,
        *,
        url: str | None,
        secret: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timestamp: Callable[[], float] = time.time,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if url is not None and not secret:
            raise ValueError("a callback URL needs the secret the callbacks are signed with")
        delays = tuple(float(d) for d in retry_delays)
        if not delays or any(d < 0 for d in delays):
            raise ValueError("retry_delays must be one or more delays >= 0 (seconds)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.secret = secret
        self.transport = transport
        self.timestamp = timestamp
        self.retry_delays = delays
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.events: dict[str, Event] = {}
        self.held = False
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # -- the events ------------------------------------------------------------------------------

    def queue(self, ticket: Ticket, entry: Entry) -> None:
        """Queue the callback of one transition (a listener of the hotline's state)."""
        sjid = f"{ticket.gdbh}-{entry.xh}"
        self.events[sjid] = Event(
            sjid, ticket.gdbh, ticket.wbbh, entry.xh, event_body(ticket, entry)
        )
        self.kick()

    def reset(self) -> None:
        """No events, not held."""
        self.events.clear()
        self.held = False
        self.kick()

    def hold(self, held: bool) -> None:
        """Hold the automatic sender (events queue), or let it go on."""
        self.held = held
        self.kick()

    def retry_delay(self, attempts: int, retry_after: float | None = None) -> float:
        """How long to wait after ``attempts`` failed attempts: the answer's ``Retry-After``
        when given (but no longer than the longest configured delay, so a gateway cannot park
        the sender and tests with tiny delays stay quick), else the configured delay."""
        if retry_after is not None:
            return min(retry_after, max(self.retry_delays))
        return self.retry_delays[min(attempts, len(self.retry_delays)) - 1]

    def heads(self) -> list[Event]:
        """Each ticket's next event to send: its lowest queued ``xh`` (earlier ones are
        delivered or failed)."""
        heads: dict[str, Event] = {}
        for event in self.events.values():
            if event.state != QUEUED:
                continue
            head = heads.get(event.gdbh)
            if head is None or event.xh < head.xh:
                heads[event.gdbh] = event
        return list(heads.values())

    # -- delivering ------------------------------------------------------------------------------

    async def deliver(self, sjids: Sequence[str]) -> list[Attempt]:
        """Send these events now, once each, in this order (held or not); what each got."""
        if self.url is None:
            raise NoCallbackUrl("no callback URL is configured")
        unknown = [sjid for sjid in sjids if sjid not in self.events]
        if unknown:
            raise UnknownEvents(unknown)
        return [await self._send(self.events[sjid], automatic=False) for sjid in sjids]

    async def _send(self, event: Event, *, automatic: bool) -> Attempt:
        assert self.url is not None
        assert self.secret is not None
        timestamp = max(int(self.timestamp()), event.last_timestamp + 1)
        event.last_timestamp = timestamp
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event.sjid,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(self.secret, timestamp, event.body),
        }
        event.attempts += 1
        retry_after: float | None = None
        try:
            response = await self._http().post(self.url, content=event.body, headers=headers)
        except Exception as exc:  # any failure to get an answer (the transport's, the app's)
            attempt = Attempt(event.sjid, None, None, f"{type(exc).__name__}: no answer")
        else:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            attempt = Attempt(event.sjid, response.status_code, body)
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        event.last_status = attempt.status
        status = attempt.status
        if status is not None and 200 <= status < 300:
            event.state = DELIVERED
        elif _retryable(status):
            if automatic:
                if event.attempts >= self.max_attempts:
                    event.state = FAILED
                else:
                    delay = self.retry_delay(event.attempts, retry_after)
                    event.next_at = asyncio.get_running_loop().time() + delay
        elif event.state == QUEUED:
            event.state = FAILED  # refused for good: the gateway will not take it
        logger.info(
            "hotline callback %s attempt %d: %s (%s)",
            event.sjid,
            event.attempts,
            status if status is not None else attempt.error,
            event.state,
        )
        return attempt

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(transport=self.transport, timeout=self.timeout)
            self._client_loop = loop
        return self._client

    # -- the automatic sender --------------------------------------------------------------------

    def kick(self) -> None:
        """Start the sender in the running loop (when there is somewhere to send) or wake it."""
        if self.url is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a loop (a synchronous caller): the next request starts it
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(self._wake), name="hotline outbox")
        else:
            assert self._wake is not None
            self._wake.set()

    async def _run(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wake.clear()
            wait: float | None = None
            if not self.held:
                now = loop.time()
                heads = self.heads()
                due = sorted((e for e in heads if e.next_at <= now), key=lambda e: e.next_at)
                if due:
                    for event in due:
                        if self.held:
                            break
                        if event.state == QUEUED:
                            await self._send(event, automatic=True)
                    continue
                if heads:
                    wait = max(0.0, min(e.next_at for e in heads) - now)
            if wait is None:
                await wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)

    async def aclose(self) -> None:
        """Stop the sender and close its connections (in the loop they belong to)."""
        loop = asyncio.get_running_loop()
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is loop:
            task.cancel()
            await asyncio.wait([task])
        client, self._client = self._client, None
        if client is not None and self._client_loop is loop:
            await client.aclose()
        self._client_loop = None
