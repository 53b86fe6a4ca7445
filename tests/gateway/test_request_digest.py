"""Every /gw answer carries ``Xyb-Request-Digest`` (the request as the gateway received it), and
the access event the audit log is written from holds the same digest, the digest of the body bytes
sent back, the pairwise subject of the upstream assertion, and whose personal data was read and why.

The expected values are computed here from the documented formula with hashlib, never with the
gateway's own functions: ``sha256(METHOD SP raw-target LF body)``, sent as
``sha-256=:<base64 of the 32 bytes>:``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import struct
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import ByteSize

from app.core.config import Settings
from app.events import AccessEvent, Outcome, RecentEvents
from app.gateway.routetable import TransportFactory, default_transport_factory
from app.identity.tokens import verify_assertion
from app.services.audit.digests import digest_header, request_digest
from tests.conftest import GrantAccess
from tests.gateway.asgi import asgi_call
from tests.gateway.support import UPSTREAM, onboard
from tests.identity.api_support import (
    Json,
    bearer,
    create_client,
    grant,
    identity,
    login,
    register,
)

ID = "11010519491231002X"
RECORD = {
    "cert_no": "BDC430100-2023-0000001",
    "owner_id_number": ID,
    "address": "长沙",
    "area": 88.5,
}
HEADER = "xyb-request-digest"


def digest_of(method: str, raw_target: bytes, body: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b" " + raw_target + b"\n" + body).digest()


def header_of(method: str, raw_target: bytes, body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(digest_of(method, raw_target, body)).decode()}:"


def sent_as(response: httpx.Response, *, body: bytes | None = None) -> tuple[str, str]:
    """(header, hex) of the request httpx sent (``body`` overrides the body, for calls the
    gateway refused before reading it)."""
    request = response.request
    content = request.content if body is None else body
    raw = digest_of(request.method, request.url.raw_path, content)
    return header_of(request.method, request.url.raw_path, content), raw.hex()


def asserted_subject(app: FastAPI, request: httpx.Request, audience: str) -> str:
    """The ``sub`` of the assertion the upstream received."""
    manager = identity(app)
    claims = verify_assertion(
        request.headers["x-xyb-assertion"],
        manager.state.keyring.get,
        issuer=manager.settings.resolved_issuer,
        audience=audience,
    )
    subject: str = claims["sub"]
    return subject


def with_purpose(headers: dict[str, str], purpose: bytes) -> dict[bytes, bytes]:
    """``headers`` and ``Xyb-Purpose`` as bytes (UTF-8 text is sent as its bytes)."""
    return {**{k.encode(): v.encode() for k, v in headers.items()}, b"Xyb-Purpose": purpose}


def last_event(app: FastAPI) -> AccessEvent:
    recent = app.state.recent_events
    assert isinstance(recent, RecentEvents)
    return recent.snapshot()[-1]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small enough that the raw upstreams below stream their answers (the chunked relay path).
    return settings.model_copy(update={"upstream_buffer": ByteSize(4096)})


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter, settings: Settings) -> TransportFactory:
    """The stubbed upstream at UPSTREAM; real connections elsewhere (the raw upstreams)."""
    real = default_transport_factory(settings)

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        if base_url.startswith(UPSTREAM):
            return httpx.MockTransport(upstream.async_handler)
        return real(base_url, max_connections)

    return factory


@pytest.fixture
async def caller(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> dict[str, str]:
    await onboard(client, admin_headers)
    return await grant_access(("430100", "bdc"))


def test_the_formula_is_the_audit_modules() -> None:
    """The proxy hashes incrementally; the audit module's one-shot function agrees."""
    target, body = b"/gw/430100/bdc/records?limit=5", b'{"a": 1}'
    assert request_digest("POST", target, body) == digest_of("POST", target, body).hex()
    assert digest_header(request_digest("POST", target, body)) == header_of("POST", target, body)


async def test_a_get_with_a_query(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI, caller: dict[str, str]
) -> None:
    route = upstream.get("/records").respond(200, json=[RECORD])
    response = await client.get(
        f"/gw/430100/bdc/records?id_number={ID}&limit=5&note=%E4%B8%AD", headers=caller
    )
    assert response.status_code == 200
    header, hex_digest = sent_as(response)
    assert response.request.url.raw_path.endswith(b"&note=%E4%B8%AD")  # as sent, not decoded
    assert response.headers.get_list(HEADER) == [header]
    event = last_event(app)
    assert event.request_digest == hex_digest
    assert event.response_digest == hashlib.sha256(response.content).hexdigest()
    # An application's own call: the assertion's pairwise subject, nobody's personal data.
    assert event.subject == asserted_subject(app, route.calls.last.request, "430100/bdc")
    assert (event.personal_data_of, event.purpose) == (None, None)


async def test_a_post_with_a_body(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI, caller: dict[str, str]
) -> None:
    route = upstream.post("/records").respond(201, json=RECORD)
    body = b'{"owner_id_number": "%s", "address": "\xe9\x95\xbf\xe6\xb2\x99", "area": 88.5}' % (
        ID.encode()
    )
    response = await client.post(
        "/gw/430100/bdc/records",
        content=body,
        headers={**caller, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert route.calls.last.request.content == body
    header, hex_digest = sent_as(response)
    assert response.request.content == body
    assert response.headers[HEADER] == header
    assert header == header_of("POST", b"/gw/430100/bdc/records", body)
    event = last_event(app)
    assert (event.request_digest, event.response_digest) == (
        hex_digest,
        hashlib.sha256(response.content).hexdigest(),
    )
    # Another body, another digest.
    other = await client.post(
        "/gw/430100/bdc/records",
        content=body.replace(b"88.5", b"88.6"),
        headers={**caller, "Content-Type": "application/json"},
    )
    assert other.headers[HEADER] != header


async def test_an_upstream_404_passed_through_carries_the_gateways_digest_only(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI, caller: dict[str, str]
) -> None:
    upstream.get("/records/BDC430100-2023-0000404").respond(
        404,
        json={"code": "E404", "message": "未找到"},
        # An upstream cannot speak for the gateway.
        headers={"Xyb-Request-Digest": "sha-256=:forged:"},
    )
    response = await client.get("/gw/430100/bdc/records/BDC430100-2023-0000404", headers=caller)
    assert response.status_code == 404
    assert response.headers["x-xyb-upstream"] == "430100/bdc"
    header, hex_digest = sent_as(response)
    assert response.headers.get_list(HEADER) == [header]
    event = last_event(app)
    assert event.from_upstream
    assert event.request_digest == hex_digest
    assert event.response_digest == hashlib.sha256(response.content).hexdigest()


async def test_a_call_refused_before_its_body_is_read_digests_the_empty_body(
    client: httpx.AsyncClient, app: FastAPI, caller: dict[str, str]
) -> None:
    body = b'{"owner_id_number": "1"}'
    response = await client.post(
        "/gw/430100/bdc/records?x=1", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    header, hex_digest = sent_as(response, body=b"")
    assert response.headers[HEADER] == header
    event = last_event(app)
    assert event.request_digest == hex_digest
    assert event.response_digest == hashlib.sha256(response.content).hexdigest()
    assert (event.subject, event.personal_data_of) == (None, None)  # no assertion was made
    # 404 for an unknown service: the same rule.
    missing = await client.get("/gw/430100/nope/records", headers=caller)
    assert missing.status_code == 404
    assert missing.headers[HEADER] == header_of("GET", b"/gw/430100/nope/records", b"")


async def test_a_refused_body_is_digested_as_received(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI, caller: dict[str, str]
) -> None:
    body = b'{"owner_id_number": "123", "area": -1}'
    response = await client.post(
        "/gw/430100/bdc/records",
        content=body,
        headers={**caller, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert len(upstream.calls) == 0
    header, hex_digest = sent_as(response)
    assert response.headers[HEADER] == header == header_of("POST", b"/gw/430100/bdc/records", body)
    event = last_event(app)
    assert event.outcome is Outcome.CALLER_ERROR
    assert event.request_digest == hex_digest
    assert event.response_digest == hashlib.sha256(response.content).hexdigest()
    assert event.subject is None  # refused before any assertion


async def test_a_body_that_broke_off_is_digested_as_far_as_it_came(
    app: FastAPI, caller: dict[str, str]
) -> None:
    answer = await asgi_call(
        app,
        "POST",
        b"/gw/430100/bdc/records",
        headers=[
            (b"authorization", caller["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"35"),
        ],
        messages=[
            {"type": "http.request", "body": b'{"owner', "more_body": True},
            {"type": "http.request", "body": b'_id_number"', "more_body": True},
        ],  # then the caller hangs up
    )
    assert (answer.status, answer.json()["type"]) == (400, "/problems/incomplete-body")
    expected = header_of("POST", b"/gw/430100/bdc/records", b'{"owner_id_number"')
    assert (HEADER.encode(), expected.encode()) in answer.headers
    event = last_event(app)
    assert (
        event.request_digest
        == digest_of("POST", b"/gw/430100/bdc/records", b'{"owner_id_number"').hex()
    )
    assert event.response_digest == hashlib.sha256(answer.body).hexdigest()


async def test_the_gateways_last_resort_500_carries_it_too(
    client: httpx.AsyncClient, app: FastAPI, caller: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the gateway")

    monkeypatch.setattr(app.state.guard, "upstream_headers", broken)
    response = await client.get(f"/gw/430100/bdc/records?id_number={ID}", headers=caller)
    assert response.status_code == 500
    header, hex_digest = sent_as(response)
    assert response.headers[HEADER] == header
    event = last_event(app)
    assert event.request_digest == hex_digest
    assert event.response_digest is None  # answered outside the proxy, which never saw its bytes


# --- personal data -------------------------------------------------------------------------------


@pytest.fixture
async def resident(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> tuple[Json, dict[str, str], Json]:
    """A registered resident, the headers of their token through an app, and the app."""
    person = await register(client)
    app_client = await create_client(client, admin_headers)
    for slug, classification in (("bdc", "personal"), ("open", "public")):
        await onboard(client, admin_headers, slug=slug, data_classification=classification)
        await grant(client, admin_headers, app_client["client_id"], slug=slug)
    issued = await login(client, app_client, person["raw"]["phone"])
    return person, bearer(issued["access_token"]), app_client


async def test_a_residents_call_to_a_personal_service_is_a_read_of_their_data(
    client: httpx.AsyncClient,
    upstream: respx.MockRouter,
    app: FastAPI,
    resident: tuple[Json, dict[str, str], Json],
) -> None:
    person, headers, app_client = resident
    route = upstream.get("/records/latest").respond(200, json=RECORD)

    answer = await client.get("/gw/430100/bdc/records/latest", headers=headers)
    assert answer.status_code == 200
    event = last_event(app)
    assert event.personal_data_of == person["id"]
    assert event.purpose == "service classification: personal"
    subject = asserted_subject(app, route.calls.last.request, "430100/bdc")
    assert event.subject == subject
    assert answer.headers[HEADER] == sent_as(answer)[0]

    purpose = "办理不动产转移登记（业务号 2026-0001）"
    stated = await client.get(
        "/gw/430100/bdc/records/latest",
        headers=with_purpose(headers, f"  {purpose} ".encode()),
    )
    assert stated.status_code == 200
    assert (last_event(app).personal_data_of, last_event(app).purpose) == (person["id"], purpose)
    assert last_event(app).subject == subject  # pairwise: stable per service
    # The purpose is said to the gateway: the upstream learns who calls from the assertion only.
    assert "xyb-purpose" not in route.calls.last.request.headers

    # The same resident at a public service: an assertion, but no ID number in it.
    public = await client.get(
        "/gw/430100/open/records/latest", headers=with_purpose(headers, "查询".encode())
    )
    assert public.status_code == 200
    event = last_event(app)
    assert event.service == "430100/open"
    assert (event.personal_data_of, event.purpose) == (None, None)
    assert event.subject == asserted_subject(app, route.calls.last.request, "430100/open")
    assert event.subject != subject

    # The app on its own (no resident, no ID number) at the personal service.
    app_token = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    own = await client.get(
        "/gw/430100/bdc/records/latest",
        headers=bearer(app_token.json()["access_token"]),
    )
    assert own.status_code == 200
    assert (last_event(app).personal_data_of, last_event(app).purpose) == (None, None)


@pytest.mark.parametrize(
    "value",
    [b"x" * 201, b"   ", "用途\u200b".encode(), b"a\tb"],
    ids=["too-long", "blank", "invisible", "tab"],
)
async def test_a_bad_purpose_is_refused(
    client: httpx.AsyncClient,
    upstream: respx.MockRouter,
    app: FastAPI,
    resident: tuple[Json, dict[str, str], Json],
    value: bytes,
) -> None:
    _, headers, _ = resident
    route = upstream.get("/records/latest").respond(200, json=RECORD)
    response = await client.get(
        "/gw/430100/bdc/records/latest", headers=with_purpose(headers, value)
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/bad-purpose"
    assert response.headers[HEADER] == header_of("GET", b"/gw/430100/bdc/records/latest", b"")
    assert not route.called
    assert last_event(app).personal_data_of is None  # nothing was read
    # 200 characters are enough.
    fine = await client.get(
        "/gw/430100/bdc/records/latest", headers={**headers, "Xyb-Purpose": "x" * 200}
    )
    assert fine.status_code == 200
    assert last_event(app).purpose == "x" * 200


# --- streamed answers --------------------------------------------------------------------------


class RawUpstream:
    """An upstream on a raw socket answering ``size`` bytes: whole, or cut off by a reset once
    the gateway has sent its caller the first chunk (``cut``)."""

    def __init__(self, size: int, *, cut: asyncio.Event | None = None) -> None:
        self.body = bytes(range(256)) * (size // 256)
        self.cut = cut
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n\r\n" % len(self.body)
            )
            if self.cut is None:
                writer.write(head + self.body)
                await writer.drain()
                return
            writer.write(head + self.body[:16384])
            await writer.drain()
            await self.cut.wait()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def call_raw(
    app: FastAPI, path: bytes, headers: dict[str, str], first_chunk: asyncio.Event
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """GET ``path`` through the app over ASGI; (answer headers, body bytes received)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return list(start["headers"]), body


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut-short"])
async def test_a_streamed_answer_is_digested_as_sent(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    app: FastAPI,
    cut: bool,
) -> None:
    first_chunk = asyncio.Event()
    async with RawUpstream(65536, cut=first_chunk if cut else None) as raw:
        await onboard(client, admin_headers, slug="big", upstream_url=raw.url, retries=0)
        caller = await grant_access(("430100", "big"))
        path = b"/gw/430100/big/records/latest"
        headers, received = await call_raw(app, path, caller, first_chunk)
    assert (HEADER.encode(), header_of("GET", path, b"").encode()) in headers
    event = last_event(app)
    assert event.request_digest == digest_of("GET", path, b"").hex()
    assert event.response_digest == hashlib.sha256(received).hexdigest()
    if cut:
        assert 0 < len(received) < len(raw.body)
        assert event.outcome is Outcome.UPSTREAM_ERROR
    else:
        assert received == raw.body
        assert event.outcome is Outcome.SUCCESS


async def test_the_merged_document_names_the_digest_and_the_purpose(
    client: httpx.AsyncClient, caller: dict[str, str]
) -> None:
    document = (await client.get("/gw/openapi.json")).json()
    components = document["components"]
    operations = [
        operation
        for path_item in document["paths"].values()
        for method, operation in path_item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]
    assert operations
    for operation in operations:
        purposes = [
            components["parameters"][p["$ref"].rsplit("/", 1)[1]]
            for p in operation["parameters"]
            if "$ref" in p and "/parameters/" in p["$ref"]
        ]
        assert [p["name"] for p in purposes if p["in"] == "header"] == ["Xyb-Purpose"]
        for response in operation["responses"].values():
            ref = response["headers"]["Xyb-Request-Digest"]["$ref"]
            header = components["headers"][ref.rsplit("/", 1)[1]]
            assert header["schema"]["pattern"] == "^sha-256=:[A-Za-z0-9+/]{43}=:$"
    # The pattern it publishes fits what it sends.
    sent = header_of("GET", b"/gw/x", b"")
    assert re.fullmatch(header["schema"]["pattern"][1:-1], sent)
