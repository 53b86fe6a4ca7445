"""Fault injection for simulated upstreams.

``Faults`` is the switchboard of one simulator, read on every request, so a test can change it at
run time. The app-level faults (latency, jitter, error_rate, hang, malformed ``"json"``) are done
by ``FaultMiddleware`` and work under any ASGI server, ``httpx.ASGITransport`` included. The
transport-level ones (refuse, reset, malformed ``"http"``) need the socket: only
``app.simulators.host.SimulatorHost`` applies them.

``FaultMiddleware`` also counts the requests it receives per (method, path template), faulted ones
included; ``/_sim/*`` (the simulator's own control paths) is neither faulted nor counted.
"""

from __future__ import annotations

import asyncio
import copy
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Malformed = Literal["http", "json"]
# Requests received, per (method, path template); unmatched paths count under the raw path.
Received = Counter[tuple[str, str]]
ErrorResponder = Callable[[int], Response]

CONTROL_PREFIX = "/_sim/"


@dataclass
class Faults:
    """What a simulator does wrong; all off by default."""

    latency_ms: float = 0.0  # added before every answer
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter_ms
    error_rate: float = 0.0  # share of requests answered with error_status (0..1)
    error_status: int = 503
    hang: bool = False  # accept the request, never answer
    refuse: bool = False  # nothing listening (SimulatorHost only)
    reset: bool = False  # process the request, then reset the connection (SimulatorHost only)
    malformed: Malformed | None = None  # "http": not HTTP at all (host only); "json": 200, not JSON

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field whose value is out of range or mistyped."""
        for name in ("latency_ms", "jitter_ms", "error_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
        if self.error_rate > 1:
            raise ValueError("error_rate must be between 0 and 1")
        if isinstance(self.error_status, bool) or not isinstance(self.error_status, int):
            raise ValueError("error_status must be an integer")
        if not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be between 400 and 599")
        for name in ("hang", "refuse", "reset"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        if self.malformed not in (None, "http", "json"):
            raise ValueError('malformed must be null, "http" or "json"')

    def update(self, **changes: Any) -> None:
        """Change some fields at once; nothing changes when any value is refused."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        candidate = copy.copy(self)
        for name, value in changes.items():
            setattr(candidate, name, value)
        candidate.check()
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    def clear(self) -> None:
        """Switch every fault off."""
        self.update(**asdict(Faults()))

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values."""
        return asdict(self)


def received_as_list(received: Received) -> list[dict[str, Any]]:
    """The counts as ``[{"method", "path", "count"}]``, sorted by path then method."""
    return [
        {"method": method, "path": path, "count": count}
        for (method, path), count in sorted(received.items(), key=lambda item: item[0][::-1])
    ]


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class FaultMiddleware:
    """Counts every request, then applies the app-level faults in force for it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: Faults,
        received: Received,
        routes: Sequence[BaseRoute],
        error_response: ErrorResponder,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.received = received
        self.routes = routes
        self.error_response = error_response
        self.rng = rng or random.Random()  # noqa: S311 - fault timing, not security

    def template(self, scope: Scope) -> str:
        """The path template of the route the request matches, or its raw path."""
        for route in self.routes:
            match, _ = route.matches(scope)
            path = getattr(route, "path", None)
            if match is not Match.NONE and isinstance(path, str):
                return path
        raw: str = scope["path"]
        return raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        self.received[(scope["method"], self.template(scope))] += 1
        faults = self.faults
        delay = faults.latency_ms + (
            self.rng.uniform(0, faults.jitter_ms) if faults.jitter_ms else 0
        )
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if faults.hang:
            await _until_disconnect(receive)
            return
        if faults.error_rate > 0 and self.rng.random() < faults.error_rate:
            await self.error_response(faults.error_status)(scope, receive, send)
            return
        if faults.malformed == "json":
            await self._malformed_json(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _malformed_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the app answer, then send 200 with the first half of its body: not JSON."""
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        broken = body[: len(body) // 2] if len(body) >= 2 else b'{"code": "0", "data": '
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(broken)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": broken})
