"""Upstream failures through the real aiohttp transport leave nothing personal or secret in the log.

The attack of issue 9: an upstream answering ``Content-Length: abc`` made the gateway log the
aiohttp exception's repr, which holds the upstream URL (an ID number in the path, a phone in the
query) and every request header (the service's ``upstream_auth`` secret, the whole signed
assertion with the resident's ID number). Each upstream here is a raw socket on 127.0.0.1:0 that
misbehaves one way; the suite's log guard (tests/log_guard.py) fails any test whose records carry
such data, and each test also checks the warning the operator gets: the service, a fixed sentence
and the exception classes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ByteSize

from app.core.config import Settings
from app.core.logging import JsonFormatter
from app.gateway import proxy
from tests.identity.api_support import (
    bearer,
    create_client,
    grant,
    is_problem,
    login,
    register,
    resident_id,
)
from tests.log_guard import LogGuard, secret

UPSTREAM_SECRET = secret("upstream-credential-7d41c0e9b2")
PHONE = "13812345678"
DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "不动产登记记录", "version": "1.0"},
    "paths": {
        "/records/{id_number}": {
            "get": {
                "operationId": "getRecords",
                "parameters": [
                    {
                        "name": "id_number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "phone", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "the records",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
    },
}

CLASS_CHAIN = re.compile(r"\w+( \[E[A-Z0-9]+\])?( <- \w+( \[E[A-Z0-9]+\])?)*")
Behaviour = Callable[["RawUpstream", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawUpstream:
    """An upstream on a raw socket: reads a request's head, then misbehaves as told."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.heads: list[bytes] = []
        self.release = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            await self.behaviour(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def invalid_length(
    upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"
    )
    await writer.drain()


async def reset(
    upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    _reset(writer)


async def reset_mid_answer(
    upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    # Past the gateway's buffer (4 KiB here), so the status is sent before the reset arrives.
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: 65536\r\n\r\n" + b"x" * 16384
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)


async def stall(
    upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await upstream.release.wait()  # set when the test is done with it


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"upstream_buffer": ByteSize(4096)})


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, logger: str) -> list[dict[str, Any]]:
        formatter = JsonFormatter()
        return [json.loads(formatter.format(r)) for r in self.records if r.name == logger]


@pytest.fixture
def gateway_log() -> Iterator[Records]:
    handler = Records()
    for name in ("xyb.gateway", "xyb.error"):
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in ("xyb.gateway", "xyb.error"):
            logging.getLogger(name).removeHandler(handler)


Call = Callable[[RawUpstream], Awaitable[httpx.Response]]
Prepare = Callable[[RawUpstream], Awaitable[tuple[str, dict[str, str]]]]


@pytest.fixture
async def prepare(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Prepare:
    """Onboards a ``personal`` service with an upstream credential in front of an upstream; the
    call a signed-in resident makes to it, an ID number in the path and a phone in the query."""
    id_number = resident_id()
    person = await register(client, id_number=id_number)
    app_client = await create_client(client, admin_headers)
    secret(app_client["client_secret"])
    slugs = iter(f"records-{n}" for n in range(1, 10))

    async def make(upstream: RawUpstream) -> tuple[str, dict[str, str]]:
        slug = next(slugs)
        onboarded = await client.post(
            "/admin/services",
            json={
                "division": "430100",
                "slug": slug,
                "name": "不动产登记记录",
                "upstream_url": upstream.url,
                "document": DOCUMENT,
                "data_classification": "personal",
                "upstream_auth": {"header": "X-Api-Key", "value": UPSTREAM_SECRET},
                "timeout_s": 0.5,
                "retries": 0,
            },
            headers=admin_headers,
        )
        assert onboarded.status_code == 201, onboarded.text
        await grant(client, admin_headers, app_client["client_id"], slug=slug)
        issued = await login(client, app_client, person["raw"]["phone"])
        path = f"/gw/430100/{slug}/records/{id_number}?phone={PHONE}"
        return path, bearer(issued["access_token"])

    return make


@pytest.fixture
def call_through(client: httpx.AsyncClient, prepare: Prepare) -> Call:
    async def call(upstream: RawUpstream) -> httpx.Response:
        path, headers = await prepare(upstream)
        return await client.get(path, headers=headers)

    return call


def _sent_everything_the_old_log_leaked(upstream: RawUpstream) -> None:
    """The upstream was sent what the old warning quoted: the credential and the assertion."""
    assert upstream.heads
    text = upstream.heads[0].decode("latin-1").lower()
    assert UPSTREAM_SECRET.lower() in text
    assert "x-xyb-assertion: eyj" in text
    assert f"phone={PHONE}" in text


def _warned(log: Records, message: str) -> dict[str, Any]:
    [line] = [w for w in log.lines("xyb.gateway") if w["msg"] == message]
    assert line["level"] == "warning"
    assert line["service"].startswith("430100/records-")
    assert line["error"].startswith(f"The upstream of {line['service']} ")
    assert "masked" not in line, line  # nothing for the last line of defence to do
    # The exception chain by class names (and errno names): nothing the request carried.
    assert line["cause"] is None or CLASS_CHAIN.fullmatch(line["cause"]), line
    return line


async def test_invalid_content_length_is_502_and_logs_classes_only(
    call_through: Call, gateway_log: Records
) -> None:
    async with RawUpstream(invalid_length) as upstream:
        response = await call_through(upstream)
    body = is_problem(response, 502)
    assert body["type"] == "/problems/upstream-bad-response"
    _sent_everything_the_old_log_leaked(upstream)
    line = _warned(gateway_log, "upstream call failed")
    assert "HttpProcessingError" in line["cause"], line  # what the parser refused, by class


async def test_a_reset_connection_is_502_and_logs_classes_only(
    call_through: Call, gateway_log: Records
) -> None:
    async with RawUpstream(reset) as upstream:
        response = await call_through(upstream)
    is_problem(response, 502)
    _sent_everything_the_old_log_leaked(upstream)
    line = _warned(gateway_log, "upstream call failed")
    # Named as what happened: httpx-aiohttp re-raises the reset as httpx's ConnectTimeout, a
    # class the log leaves out when the original is known.
    assert line["cause"] == "ClientOSError [ECONNRESET] <- ConnectionResetError [ECONNRESET]"


async def test_a_stalled_upstream_is_504_and_logs_no_request_data(
    call_through: Call, gateway_log: Records
) -> None:
    async with RawUpstream(stall) as upstream:
        response = await call_through(upstream)
    body = is_problem(response, 504)
    assert body["type"] == "/problems/upstream-timeout"
    _sent_everything_the_old_log_leaked(upstream)
    _warned(gateway_log, "upstream call failed")


async def test_an_answer_cut_short_logs_classes_and_frames_only(
    client: httpx.AsyncClient, prepare: Prepare, gateway_log: Records
) -> None:
    async with RawUpstream(reset_mid_answer) as upstream:
        path, headers = await prepare(upstream)
        # The status went out before the reset; the gateway can only end the answer early, which
        # httpx's in-process ASGI transport reports as a failed assertion of its own.
        with pytest.raises(AssertionError):
            await client.get(path, headers=headers)
    _sent_everything_the_old_log_leaked(upstream)
    line = _warned(gateway_log, "upstream answer cut short")
    # httpx's ReadError, which only wraps aiohttp's exception, is left out of both chains.
    assert line["cause"] == "ClientPayloadError <- ContentLengthError", line
    # The cut-off then reaches the last-resort handler, with its traceback: frames and classes.
    [error] = gateway_log.lines("xyb.error")
    assert error["exc_type"] == (
        "_CutShort <- UpstreamBadResponse <- ClientPayloadError <- ContentLengthError"
    ), error
    assert "in _relay\n" in error["exc"]
    assert "\nhttpx.ReadError\n" in error["exc"]  # the traceback keeps every link
    assert "masked" not in error, error


async def test_the_guard_catches_the_original_leak(
    call_through: Call, log_guard: LogGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the old repr back in the warning, the suite's guard finds every leaked value."""
    monkeypatch.setattr(proxy, "describe_exception", lambda exc, **_: repr(exc))
    with log_guard.expect(*("id_number", "phone", "jwt", "secret")) as found:
        async with RawUpstream(invalid_length) as upstream:
            response = await call_through(upstream)
    is_problem(response, 502)
    leaked = {(f.rule, f.where) for f in found}
    cause = "logger xyb.gateway (WARNING), extra 'cause'"
    assert {("id_number", cause), ("phone", cause), ("jwt", cause), ("secret", cause)} <= leaked
    for finding in found:  # the report shows where, never the values themselves
        assert UPSTREAM_SECRET not in finding.excerpt
        assert PHONE not in finding.excerpt
