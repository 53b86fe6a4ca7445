"""The HTTP edge's protocols, fed bytes directly: what they count, refuse and let through.

Both the httptools protocol (what `xyb serve` runs) and the h11 one (where httptools is missing)
go through the same cases; tests/test_http_edge_live.py attacks a real `xyb serve`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from app.core.config import Settings
from app.core.http_server import (
    BoundedH11Protocol,
    BoundedHttpToolsProtocol,
    HeadLimits,
    uvicorn_options,
)

LIMITS = HeadLimits(max_bytes=2048, max_fields=20, timeout_s=3600)


class FakeTransport(asyncio.Transport):
    """A socket's other end: what the server wrote, and whether it half-closed or closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.eof = False
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("192.0.2.7", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Server:
    """One connection to a protocol serving an app that records what reached it."""

    def __init__(self, protocol_class: type[asyncio.Protocol], limits: HeadLimits) -> None:
        self.seen: list[dict[str, Any]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            self.seen.append({"path": scope["path"], "headers": scope["headers"], "body": body})
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        config = uvicorn.Config(
            app,
            lifespan="off",
            proxy_headers=False,
            h11_max_incomplete_event_size=limits.max_bytes,
        )
        self.transport = FakeTransport()
        self.protocol: Any = protocol_class(  # type: ignore[call-arg]
            config=config, server_state=ServerState(), app_state={}, limits=limits
        )
        self.protocol.connection_made(self.transport)

    def feed(self, *chunks: bytes) -> None:
        for chunk in chunks:
            if self.transport.closed or self.transport.eof:
                return
            self.protocol.data_received(chunk)

    async def answers(self, count: int = 1) -> list[bytes]:
        """The status lines written, once ``count`` of them are (or the connection ends)."""
        for _ in range(200):
            lines = [
                line
                for line in bytes(self.transport.written).split(b"\r\n")
                if line.startswith(b"HTTP/1.1 ")
            ]
            if len(lines) >= count or self.transport.eof or self.transport.closed:
                return lines
            await asyncio.sleep(0.01)
        return lines

    def problem(self) -> dict[str, Any]:
        head, _, body = bytes(self.transport.written).partition(b"\r\n\r\n")
        assert b"content-type: application/problem+json" in head, head
        assert b"connection: close" in head, head
        document: dict[str, Any] = json.loads(body)
        assert f"x-request-id: {document['instance']}".encode() in head
        return document


PROTOCOLS = [BoundedHttpToolsProtocol, BoundedH11Protocol]


@pytest.fixture(params=PROTOCOLS, ids=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Callable[..., Server]:
    def make(limits: HeadLimits = LIMITS) -> Server:
        return Server(request.param, limits)

    return make


def request(*fields: bytes, body: bytes = b"") -> bytes:
    head = b"POST /x HTTP/1.1\r\nHost: t\r\n" + b"".join(f + b"\r\n" for f in fields)
    if body:
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"\r\n" + body


async def test_a_header_that_never_ends_is_refused_while_it_arrives(
    server: Callable[..., Server],
) -> None:
    s = server()
    s.feed(b"GET /x HTTP/1.1\r\nHost: t\r\nX-Big: ", *[b"a" * 512] * 64)  # 32 KiB offered
    assert await s.answers() == [b"HTTP/1.1 431 Request Header Fields Too Large"]
    problem = s.problem()
    assert problem["status"] == 431
    assert problem["type"] == "/problems/header-fields-too-large"
    assert problem["limit_bytes"] == 2048
    assert problem["limit_fields"] == 20
    assert s.transport.eof  # no more answers on this connection
    assert s.seen == []


async def test_a_whole_head_over_the_size_is_refused(server: Callable[..., Server]) -> None:
    s = server()
    s.feed(request(b"X-Big: " + b"a" * 3000))  # one read holding the complete head
    assert await s.answers() == [b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert s.seen == []


async def test_a_long_request_target_counts_too(server: Callable[..., Server]) -> None:
    s = server()
    s.feed(b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert await s.answers() == [b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert s.seen == []


async def test_too_many_fields_are_refused(server: Callable[..., Server]) -> None:
    s = server()
    s.feed(request(*[b"X-F%d: v" % n for n in range(20)]))  # with Host: 21 fields
    assert await s.answers() == [b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert s.problem()["detail"].startswith("The request head has too many header fields")
    assert s.seen == []


async def test_a_head_at_the_limits_passes_and_its_body_does_not_count(
    server: Callable[..., Server],
) -> None:
    s = server()
    body = b"b" * 50_000
    fields = [b"X-F%d: v" % n for n in range(17)]  # with Host, X-Pad, Content-Length: 20
    spare = 2048 - request(*fields, b"X-Pad: ", body=body).index(b"\r\n\r\n") - 4
    fields.append(b"X-Pad: " + b"p" * spare)
    assert request(*fields, body=body).index(b"\r\n\r\n") + 4 == 2048
    s.feed(request(*fields, body=body))  # head and body in one read
    assert await s.answers() == [b"HTTP/1.1 200 OK"]
    assert len(s.seen) == 1
    assert len(s.seen[0]["body"]) == 50_000
    assert (b"x-pad", fields[-1][7:]) in s.seen[0]["headers"]


async def test_each_request_on_a_connection_has_its_own_budget(
    server: Callable[..., Server],
) -> None:
    s = server()
    one = request(b"X-Pad: " + b"p" * 1500)
    s.feed(one)
    assert await s.answers(1) == [b"HTTP/1.1 200 OK"]
    s.feed(one[:20], one[20:])
    assert await s.answers(2) == [b"HTTP/1.1 200 OK"] * 2
    assert len(s.seen) == 2


async def test_a_head_that_does_not_arrive_in_time_gets_408(
    server: Callable[..., Server],
) -> None:
    s = server()
    s.feed(b"GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: a")
    deadline = s.protocol._deadline
    assert deadline is not None  # armed when the connection opened
    deadline.cancel()
    s.protocol._deadline_passed()  # what the timer does when it fires
    assert await s.answers() == [b"HTTP/1.1 408 Request Timeout"]
    assert s.problem()["type"] == "/problems/request-timeout"
    assert s.seen == []


async def test_an_idle_connection_is_closed_without_an_answer(
    server: Callable[..., Server],
) -> None:
    s = server()
    assert s.protocol._deadline is not None
    s.protocol._deadline.cancel()
    s.protocol._deadline_passed()
    assert s.transport.closed
    assert s.transport.written == b""


async def test_no_deadline_while_the_app_answers(server: Callable[..., Server]) -> None:
    s = server()
    s.feed(request())
    assert await s.answers() == [b"HTTP/1.1 200 OK"]
    assert s.protocol._deadline is None  # the head arrived: the app may take its time
    assert not s.transport.closed


async def test_bytes_that_are_not_http_get_a_problem_400(server: Callable[..., Server]) -> None:
    s = server()
    s.feed(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
    assert await s.answers() == [b"HTTP/1.1 400 Bad Request"]
    assert s.problem()["type"] == "/problems/bad-request"


async def test_a_body_that_breaks_off_closes_at_once(server: Callable[..., Server]) -> None:
    """The app waiting for the rest of the body must hear of the disconnect now, not later."""
    s = server()
    s.feed(b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
    await asyncio.sleep(0)
    s.feed(b"zz-not-a-size\r\n")
    assert await s.answers() == [b"HTTP/1.1 400 Bad Request"]
    assert s.transport.closed  # closed, not half-closed and lingering
    assert not s.transport.eof
    assert s.seen == []


def test_uvicorn_options_trust_no_proxy_by_default() -> None:
    options = uvicorn_options(Settings())
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == []
    assert options["http"].keywords["limits"] == HeadLimits(32 * 1024, 100, 10.0)
    assert options["h11_max_incomplete_event_size"] == 32 * 1024
    # uvicorn would otherwise fall back to $FORWARDED_ALLOW_IPS or 127.0.0.1.
    config = uvicorn.Config("app.main:app", **options)
    assert config.proxy_headers is False


def test_uvicorn_options_trust_exactly_the_configured_proxies() -> None:
    settings = Settings(
        trusted_proxies="10.0.0.5, 10.1.0.0/16", max_header_bytes="16KiB", max_headers=50
    )
    options = uvicorn_options(settings)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.5", "10.1.0.0/16"]
    assert options["http"].keywords["limits"] == HeadLimits(16 * 1024, 50, 10.0)


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.0/33", "10.0.0.1 10.0.0.2"])
def test_trusted_proxies_are_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(trusted_proxies=value)


# A request that arrived whole is answered even when the bytes after it are refused: the caller
# must learn that its POST was handled (it reached the upstream), or it may send it again.
async def test_garbage_after_a_whole_request_is_refused_after_its_answer(
    server: Callable[..., Server],
) -> None:
    s = server()
    s.feed(request(body=b"{}") + b"GARBAGE\r\n\r\n")  # one read: Content-Length 2, then more
    assert await s.answers(2) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request"]
    assert [seen["body"] for seen in s.seen] == [b"{}"]
    assert s.transport.eof  # then no more answers on this connection


async def test_a_pipelined_head_over_the_limit_waits_for_the_earlier_answer(
    server: Callable[..., Server],
) -> None:
    s = server()
    s.feed(request(body=b"{}") + request(b"X-Big: " + b"a" * 3000))
    assert await s.answers(2) == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 431 Request Header Fields Too Large",
    ]
    assert len(s.seen) == 1


async def test_a_pipelined_body_that_breaks_off_is_dropped_after_the_earlier_answer(
    server: Callable[..., Server],
) -> None:
    s = server()
    broken = b"POST /y HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\n"
    s.feed(request(body=b"{}") + broken)
    assert await s.answers(2) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request"]
    assert [seen["path"] for seen in s.seen] == ["/x"]  # /y never reached the app
