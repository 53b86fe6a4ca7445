"""The municipal connector over real sockets, through the production (aiohttp) transport."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from app.connectors.base import (
    ConnectorConfig,
    UpstreamBadResponse,
    UpstreamRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.connectors.municipal import MunicipalConnector
from tests.servers import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server speaking whatever ``handler`` writes; yields its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head, body


def connector(
    base_url: str, *, buffer: int = 1024 * 1024, cap: int = 8 * 1024 * 1024
) -> MunicipalConnector:
    return MunicipalConnector(
        ConnectorConfig(
            service="430100/test",
            base_url=base_url,
            transport=AiohttpTransport(),
            max_connections=10,
            buffer_bytes=buffer,
            max_response_bytes=cap,
            retries=2,
        )
    )


def request(method: str = "GET", *, timeout: float = 5.0, **kw: object) -> UpstreamRequest:
    defaults: dict[str, object] = {
        "path": "/items/1",
        "query": "a=1&b=%E9%95%BF",
        "headers": [],
        "body": b"",
    }
    defaults.update(kw)
    return UpstreamRequest(
        method=method,
        timeout=timeout,
        idempotent=method in ("GET", "PUT", "DELETE"),
        request_id="req-1",
        division="430100",
        client_id="app-xyb",
        **defaults,  # type: ignore[arg-type]
    )


def respond(status: int, body: bytes, headers: str = "Content-Type: application/json") -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(
            f"HTTP/1.1 {status} X\r\n{headers}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    seen: list[tuple[bytes, bytes]] = []
    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def test_forwards_path_query_body_and_safe_headers_only() -> None:
    handler = respond(
        201, b'{"ok": true}', "Content-Type: application/json\r\nX-Up: 1\r\nSet-Cookie: s=1"
    )
    async with raw_server(handler) as url:
        c = connector(url + "/api/v1")
        try:
            answer = await c.send(
                request(
                    "POST",
                    body=b'{"name": "x"}',
                    headers=[
                        ("Content-Type", "application/json"),
                        ("Authorization", "Bearer caller-token"),
                        ("Cookie", "xyb_session=abc"),
                        ("X-XYB-Client", "spoofed"),
                        ("X-Forwarded-For", "1.2.3.4"),
                        ("Connection", "keep-alive, X-Drop-Me"),
                        ("X-Drop-Me", "1"),
                        ("X-Request-ID", "caller-chosen"),
                        ("Accept-Language", "zh-CN"),
                    ],
                )
            )
        finally:
            await c.aclose()
    head, body = handler.seen[0]  # type: ignore[attr-defined]
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v1/items/1?a=1&b=%E9%95%BF HTTP/1.1"
    sent = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if line)}
    assert body == b'{"name": "x"}'
    assert sent["accept-language"] == "zh-CN"
    assert sent["x-request-id"] == "req-1"
    assert sent["x-xyb-division"] == "430100"
    assert sent["x-xyb-client"] == "app-xyb"
    for dropped in ("authorization", "cookie", "x-forwarded-for", "x-drop-me"):
        assert dropped not in sent
    assert answer.status == 201
    assert answer.body == b'{"ok": true}'
    names = [k for k, _ in answer.headers]
    assert "x-up" in names
    assert "set-cookie" not in names
    assert "content-length" not in names  # the gateway frames the answer itself


async def test_upstream_error_answers_are_returned_not_raised() -> None:
    async with raw_server(respond(404, b'{"code": "E404"}')) as url:
        c = connector(url)
        try:
            answer = await c.send(request())
        finally:
            await c.aclose()
    assert answer.status == 404
    assert json.loads(answer.body) == {"code": "E404"}


async def test_refused_connection_is_unavailable_and_retried_for_get() -> None:
    c = connector(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(UpstreamUnavailable) as refused:
            await c.send(request())
    finally:
        await c.aclose()
    assert refused.value.problem.status == 503
    assert "cannot be reached" in refused.value.detail


async def test_hung_upstream_times_out_within_the_deadline() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    async with raw_server(hang) as url:
        c = connector(url)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            with pytest.raises(UpstreamTimeout):
                await c.send(request(timeout=0.5))
        finally:
            await c.aclose()
        assert loop.time() - started < 0.5 + 5  # bounded, with slack for a busy machine


async def test_garbage_is_a_bad_response() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"\x00\xffTHIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    async with raw_server(garbage) as url:
        c = connector(url)
        try:
            with pytest.raises(UpstreamBadResponse):
                await c.send(request())
        finally:
            await c.aclose()


async def test_reset_after_a_post_is_not_retried() -> None:
    received: list[bytes] = []

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        received.append(head.split(b"\r\n", 1)[0])
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with raw_server(reset) as url:
        c = connector(url)
        try:
            with pytest.raises(UpstreamBadResponse):
                await c.send(request("POST", body=b"{}"))
        finally:
            await c.aclose()
    assert received == [b"POST /items/1?a=1&b=%E9%95%BF HTTP/1.1"]


async def test_declared_json_that_is_not_json_is_a_bad_response() -> None:
    async with raw_server(respond(200, b'{"broken": ')) as url:
        c = connector(url)
        try:
            with pytest.raises(UpstreamBadResponse, match="not JSON"):
                await c.send(request())
        finally:
            await c.aclose()


async def test_large_answers_stream_and_respect_the_cap() -> None:
    big = b"a" * 300_000
    async with raw_server(respond(200, big, "Content-Type: application/octet-stream")) as url:
        c = connector(url, buffer=64 * 1024)
        try:
            answer = await c.send(request())
            assert not answer.complete
            rest = b"".join([chunk async for chunk in answer.rest()])
            await answer.aclose()
        finally:
            await c.aclose()
    assert answer.body + rest == big

    async with raw_server(respond(200, big, "Content-Type: application/octet-stream")) as url:
        c = connector(url, buffer=64 * 1024, cap=100_000)
        try:
            with pytest.raises(UpstreamBadResponse, match="over the cap"):
                await c.send(request())
        finally:
            await c.aclose()


async def test_a_plain_httpx_transport_behaves_the_same() -> None:
    async with raw_server(respond(200, b"[]")) as url:
        c = MunicipalConnector(
            ConnectorConfig(
                service="430100/test",
                base_url=url,
                transport=httpx.AsyncHTTPTransport(),
                max_connections=10,
                buffer_bytes=1024,
                max_response_bytes=4096,
                retries=0,
            )
        )
        try:
            answer = await c.send(request())
        finally:
            await c.aclose()
    assert (answer.status, answer.body) == (200, b"[]")


async def test_upstream_cookies_never_reach_another_caller() -> None:
    """A shared client cookie jar would replay one caller's upstream session for the next."""
    heads: list[bytes] = []

    async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head, _ = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            heads.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: upstream_session=alice; Path=/\r\n"
                b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            )
            await writer.drain()

    async with raw_server(set_cookie) as url:
        c = connector(url)
        try:
            first = await c.send(request())
            second = await c.send(request())
        finally:
            await c.aclose()
    assert len(heads) == 2
    assert b"cookie" not in heads[1].lower()
    assert all(name != "set-cookie" for name, _ in first.headers + second.headers)
