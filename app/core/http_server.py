"""The HTTP edge under uvicorn: bounded request heads, a deadline for them, and uvicorn's options.

httptools (uvicorn's fast parser) puts no bound on a request head: it buffers a header field until
the field is complete, so one endless header holds memory for as long as the caller keeps sending
(a 100 MiB header was once accepted), and a connection that trickles its head holds a slot for
ever. The protocols here enforce the bounds while the bytes arrive, before the app runs:

- the head (request line and header fields) may be at most ``max_bytes`` long and carry at most
  ``max_fields`` fields; beyond either the server answers 431 and closes, so such a request never
  reaches a handler or an upstream. An incomplete head is measured chunk by chunk as it arrives;
  a complete one field by field;
- the head must be whole within ``timeout_s`` of the connection's opening (the first request) or
  of its first byte (later requests on a kept-alive connection); otherwise 408 and close. A
  connection that never started a request is just closed, as an idle keep-alive one is.

These answers, and the 400 for bytes that are not HTTP/1.1, are problem+json
(:mod:`app.core.errors`) with a freshly minted request id in ``instance`` and ``X-Request-ID``
(the caller's own id is inside the head being refused), and ``Connection: close``. After
answering, the server stops writing and drops what the caller is still sending for a moment
(a "lingering close"), so the answer is read rather than lost to a TCP reset.

A refusal never cuts off the answer to a request that arrived whole. Bytes after a complete
request are the next request (``Content-Length: 2`` and ``{}GARBAGE`` in one packet is a POST
and a malformed second request); that POST is already in the app, perhaps at a city system, and
a caller that never sees its answer may send it again. So the refusal waits: the requests that
arrived whole are answered in order, then the 400 (431, ...) is written and the connection
closes. Only a request whose own body broke off is not answered: the connection closes at once,
so the app waiting for the rest of that body hears of the disconnect and forwards nothing.

:func:`uvicorn_options` builds the keyword arguments ``xyb serve`` and ``xyb demo`` give uvicorn:
this protocol (over h11 where httptools is missing), and proxy headers believed only from
``XYB_TRUSTED_PROXIES``. The protocol travels as a ``functools.partial`` of a module-level class,
so uvicorn can pickle it into ``--workers`` processes.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.context import REQUEST_ID_HEADER, accept_or_mint
from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    GatewayError,
    HeaderFieldsTooLarge,
    RequestTimeout,
    problem_body,
)
from app.core.logging import logging_config

# uvicorn[standard] brings httptools wherever it has wheels; elsewhere uvicorn runs h11.
try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    httptools = None  # type: ignore[assignment]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from app.core.config import Settings

access_log = logging.getLogger("xyb.access")

# How long a refused caller's remaining bytes are read and dropped before the socket closes.
LINGER_S = 2.0
# The bytes a field adds to a head beyond its name and value: ": " and CRLF.
_FIELD_OVERHEAD = 4
TARGET_NOT_ASCII = (
    "The request target holds a character HTTP does not allow there (a space, a control"
    " character, or text outside ASCII such as 社保): percent-encode it, e.g. q=%E7%A4%BE%E4%BF%9D"
    " (curl -G --data-urlencode 'q=社保' does)."
)


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """Bounds on one request head."""

    max_bytes: int = 32 * 1024
    max_fields: int = 100
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(
            max_bytes=int(settings.max_header_bytes),
            max_fields=settings.max_headers,
            timeout_s=settings.header_timeout,
        )

    def too_large(self, what: str) -> HeaderFieldsTooLarge:
        return HeaderFieldsTooLarge(
            f"The request head has {what}: at most {self.max_bytes} bytes and {self.max_fields}"
            " header fields are accepted.",
            extensions={"limit_bytes": self.max_bytes, "limit_fields": self.max_fields},
        )


def problem_bytes(error: GatewayError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, with a new request id."""
    request_id = accept_or_mint(None)
    problem = error.problem
    body = json.dumps(
        problem_body(problem, error.detail, request_id, error.extensions), ensure_ascii=False
    ).encode("utf-8")
    phrase = http.HTTPStatus(problem.status).phrase
    lines = [f"HTTP/1.1 {problem.status} {phrase}".encode("ascii")]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode("ascii"),
        b"content-length: " + str(len(body)).encode("ascii"),
        REQUEST_ID_HEADER.encode("ascii") + b": " + request_id.encode("ascii"),
        b"connection: close",
    ]
    # One access line, like every request's (no method or route: the head was not accepted).
    access_log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": None,
            "route": None,
            "status": problem.status,
            "problem": problem.slug,
        },
    )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Turn(Enum):
    """When a refusal may be written, given what the connection's earlier requests are doing."""

    NOW = "now"  # no request of this connection is in the app
    AFTER = "after"  # requests that arrived whole are still being answered: theirs come first
    HANG_UP = "hang up"  # the request in the app lost the rest of its body: close at once


class _HeadGuard:
    """What both protocols share: the head deadline and the answers written before the app runs.

    Mixed in before uvicorn's protocol class, whose attributes it uses.
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: ServerState
    limits: HeadLimits
    _deadline: asyncio.TimerHandle | None = None
    _answered: bool = False
    _held: GatewayError | None = None  # a refusal waiting for the earlier requests' answers

    def _turn(self) -> _Turn:
        """When a refusal may be written (drops a queued request whose body broke off)."""
        raise NotImplementedError

    def _response_started(self) -> bool:
        """Whether the answer to the request in the app has begun."""
        raise NotImplementedError

    def _head_started(self) -> bool:
        """Whether a request's head has begun arriving (a timeout then deserves an answer)."""
        raise NotImplementedError

    def _app_busy(self) -> bool:
        """Whether the previous request is still being answered (a pipelined head waits for it)."""
        raise NotImplementedError

    def _arm_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.limits.timeout_s, self._deadline_passed)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self._answered or self.transport.is_closing():
            return
        if self._app_busy():
            self._arm_deadline()
        elif not self._head_started():
            self.transport.close()
        else:
            self._answer(
                RequestTimeout(
                    f"The request head did not arrive whole within {self.limits.timeout_s:g} s."
                )
            )

    def _answer(self, error: GatewayError) -> None:
        """Stop reading requests; write ``error`` as problem+json once the requests before it
        are answered, and close soon after."""
        if self._answered:
            return
        self._answered = True
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        turn = self._turn()
        if turn is _Turn.HANG_UP:
            # The app is waiting for the rest of a body that will not come: it must learn of the
            # disconnect now (and forward nothing), as uvicorn would tell it. The refusal goes
            # first unless an answer has begun (nothing may be slipped into it).
            if not self._response_started():
                self.transport.write(problem_bytes(error, self.server_state.default_headers))
            self.transport.close()
        elif turn is _Turn.AFTER:
            self._held = error  # written by on_response_complete, after the last of them
        else:
            self._write_answer(error)

    def _write_held(self) -> None:
        """Called when the last earlier request is answered: the held refusal's turn."""
        error, self._held = self._held, None
        if error is not None and not self.transport.is_closing():
            self._write_answer(error)

    def _write_answer(self, error: GatewayError) -> None:
        self.transport.write(problem_bytes(error, self.server_state.default_headers))
        if not self.transport.can_write_eof():
            self.transport.close()
        else:
            # Half-close and keep draining: closing with unread input would send a reset, and a
            # reset can discard the answer before the caller reads it.
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """Bytes that are not HTTP/1.1: uvicorn's 400, as problem+json."""
        if "url" in msg.lower():  # httptools: "Invalid char in url query" (or path)
            # Most often raw UTF-8 from curl ('...?q=社保'): say how to send it.
            self._answer(BadRequest(TARGET_NOT_ASCII))
            return
        self._answer(BadRequest("The request is not valid HTTP/1.1."))


if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol with a bounded, time-limited request head."""

        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
            *,
            limits: HeadLimits | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self.limits = limits or HeadLimits()
            self._in_head = True  # the next bytes belong to a request head
            self._message_begun = False
            self._message_ended_in_feed = False
            self._head_bytes = 0  # raw bytes of an incomplete head, counted per chunk
            self._head_size = 0  # request target and fields as parsed
            self._head_fields = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_deadline()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            # uvicorn's data_received, with a head over its limits answered 431 (a callback's
            # exception comes back from httptools as HttpParserCallbackError).
            if self._answered:
                return  # lingering: drop what is still arriving
            self._unset_keepalive_if_required()
            self._message_ended_in_feed = False
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserCallbackError as exc:
                if isinstance(exc.__context__, HeaderFieldsTooLarge):
                    self._answer(exc.__context__)
                    return
                self.send_400_response(str(exc))
                return
            except httptools.HttpParserError as exc:
                self.send_400_response(str(exc))
                return
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            if self._in_head and not self._answered:
                # A chunk that also finished the previous message is not counted: where the new
                # head starts in it is unknown, so a head may exceed the bound by one read.
                if not self._message_ended_in_feed:
                    self._head_bytes += len(data)
                if self._head_bytes > self.limits.max_bytes:
                    self._answer(self.limits.too_large("too many bytes"))

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._message_begun = True
            self._head_bytes = self._head_size = self._head_fields = 0
            self._arm_deadline()

        def on_url(self, url: bytes) -> None:
            self._grow(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_fields += 1
            if self._head_fields > self.limits.max_fields:
                raise self.limits.too_large("too many header fields")
            self._grow(len(name) + len(value) + _FIELD_OVERHEAD)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._cancel_deadline()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head = True
            self._message_begun = False
            self._message_ended_in_feed = True
            super().on_message_complete()

        def _grow(self, size: int) -> None:
            self._head_size += size
            if self._head_size > self.limits.max_bytes:
                raise self.limits.too_large("too many bytes")

        def on_response_complete(self) -> None:
            more_queued = bool(self.pipeline)  # uvicorn starts the next of them now
            super().on_response_complete()
            if self._held is not None and not more_queued:
                self._unset_keepalive_if_required()
                self._write_held()

        def _turn(self) -> _Turn:
            cycle = self.cycle  # the last request whose head arrived
            if cycle is None or cycle.response_complete:
                return _Turn.NOW
            if cycle.more_body:  # the refusal broke off this request's body
                queued = [entry for entry in self.pipeline if entry[0] is cycle]
                if not queued:
                    return _Turn.HANG_UP
                # Pipelined behind another and not started: it never will be.
                self.pipeline.remove(queued[0])
            return _Turn.AFTER

        def _response_started(self) -> bool:
            return self.cycle is not None and self.cycle.response_started

        def _head_started(self) -> bool:
            return self._message_begun

        def _app_busy(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete


class BoundedH11Protocol(_HeadGuard, H11Protocol):
    """uvicorn's h11 protocol with the same bounds (used only where httptools is missing).

    h11 bounds an incomplete head itself (``h11_max_incomplete_event_size``, set to the same
    limit by :func:`uvicorn_options`); a complete head is checked here, when h11 hands it over.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or HeadLimits()
        self._refusal: GatewayError | None = None
        self._next_event = self.conn.next_event
        self.conn.next_event = self._checked_next_event  # type: ignore[method-assign]

    def _checked_next_event(self) -> Any:
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                self._refusal = self.limits.too_large("too many bytes")
            raise
        if isinstance(event, h11.Request):
            self._cancel_deadline()
            refusal = None
            if len(event.headers) > self.limits.max_fields:
                refusal = self.limits.too_large("too many header fields")
            elif (
                len(event.target) + sum(len(k) + len(v) + _FIELD_OVERHEAD for k, v in event.headers)
                > self.limits.max_bytes
            ):
                refusal = self.limits.too_large("too many bytes")
            if refusal is not None:
                self._refusal = refusal
                raise h11.RemoteProtocolError(refusal.detail, error_status_hint=431)
        return event

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        if self.conn.their_state is h11.IDLE:
            self._arm_deadline()  # a new head is arriving
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            self._answer(self._refusal)
        else:
            super().send_400_response(msg)

    def on_response_complete(self) -> None:
        # h11 reads a pipelined request only after the previous answer (it pauses), so a refusal
        # is rarely held here; when one is, this was the request before it.
        super().on_response_complete()
        if self._held is not None:
            self._unset_keepalive_if_required()
            self._write_held()

    def _turn(self) -> _Turn:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return _Turn.NOW
        return _Turn.HANG_UP if cycle.more_body else _Turn.AFTER

    def _response_started(self) -> bool:
        return self.cycle is not None and self.cycle.response_started

    def _head_started(self) -> bool:
        return bool(self.conn.trailing_data[0])

    def _app_busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` shared by serve and demo."""
    limits = HeadLimits.from_settings(settings)
    protocol: Callable[..., asyncio.Protocol]
    if HttpToolsProtocol is not None:
        protocol = partial(BoundedHttpToolsProtocol, limits=limits)
    else:  # pragma: no cover
        protocol = partial(BoundedH11Protocol, limits=limits)
    trusted = settings.trusted_proxy_list
    return {
        "http": protocol,
        "h11_max_incomplete_event_size": limits.max_bytes,
        # X-Forwarded-For/-Proto are believed only from the configured proxies; uvicorn's default
        # would trust 127.0.0.1 (or $FORWARDED_ALLOW_IPS), letting any local hop forge addresses.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "access_log": False,
        "log_config": logging_config(settings.log_level),
        "server_header": False,
        # With --workers, uvicorn's supervisor kills a worker that does not answer its ping within
        # this many seconds. Its default (5) killed workers still starting (imports, migrations
        # check, first connections) on a busy two-core machine under load; a worker that is really
        # hung is still replaced, only later.
        "timeout_worker_healthcheck": 30,
    }


__all__ = [
    "LINGER_S",
    "BoundedH11Protocol",
    "BoundedHttpToolsProtocol",
    "HeadLimits",
    "problem_bytes",
    "uvicorn_options",
]
