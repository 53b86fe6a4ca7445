"""The HTTP edge of a real `xyb serve`, attacked over sockets: heads, forwarded addresses, Host.

One gateway serves every case (it takes seconds to start): a 3-second head deadline, 127.0.0.2
as its only trusted proxy (Linux routes all of 127/8 to loopback, so a test can connect from it),
the default public URL (its own address), and one service whose upstream records what reaches it.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import DATA_KEY
from tests.servers import LiveServer, live_gateway

pytestmark = pytest.mark.slow

TOKEN = "edge-admin-token-0123456789abcdef0123456789"
PROXY = "127.0.0.2"
MAX_HEADER_BYTES = 32 * 1024  # the defaults, as documented
MAX_HEADERS = 100


class _Recorder(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RecordingServer(ThreadingHTTPServer):
    seen: list[dict[str, str]]


@pytest.fixture(scope="module")
def upstream() -> Iterator[_RecordingServer]:
    server = _RecordingServer(("127.0.0.1", 0), _Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("edge")
    env = {
        "XYB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'edge.db'}",
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": DATA_KEY,
        "XYB_HEADER_TIMEOUT": "3",
        "XYB_TRUSTED_PROXIES": PROXY,
    }
    with live_gateway(tmp, env) as server:
        yield server


@dataclass
class App:
    client_id: str
    secret: str
    bearer: str


@pytest.fixture(scope="module")
def app_client(gateway: LiveServer, upstream: _RecordingServer) -> App:
    """An app client granted a service at 430100/edge whose upstream is the recorder."""
    admin = {"Authorization": f"Bearer {TOKEN}"}
    port = upstream.server_address[1]
    document = {
        "openapi": "3.0.3",
        "info": {"title": "echo", "version": "1"},
        "paths": {
            "/echo": {
                "get": {
                    "operationId": "echo",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            }
        },
    }
    with httpx.Client(base_url=gateway.url, headers=admin, timeout=30) as client:
        onboarded = client.post(
            "/admin/services",
            json={
                "division": "430100",
                "slug": "edge",
                "name": "回显",
                "upstream_url": f"http://127.0.0.1:{port}",
                "document": document,
            },
        )
        assert onboarded.status_code == 201, onboarded.text
        created = client.post("/admin/clients", json={"name": "edge app", "kind": "app"}).json()
        granted = client.post(
            f"/admin/clients/{created['client_id']}/grants",
            json={"division": "430100", "slug": "edge"},
        )
        assert granted.status_code == 201, granted.text
    issued = httpx.post(
        f"{gateway.url}/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    return App(created["client_id"], created["client_secret"], issued.json()["access_token"])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # bytes of filler sent before the answer came

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        assert self.headers["connection"] == "close"
        document: dict[str, Any] = json.loads(self.body)
        assert document["status"] == self.status
        assert document["instance"] == self.headers["x-request-id"]  # minted for the refusal
        return document


def _read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _parse(data: bytes, sent: int) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), data[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(lines[0].split()[1]), headers, body, sent)


def send_until_answered(port: int, head: bytes, total: int) -> Answer:
    """Send ``head``, then up to ``total`` bytes of it in 16 KiB pieces, stopping as soon as the
    server answers; if it never does, finish the head and read what it answers then."""
    piece = b"a" * 16384
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    break
                sock.sendall(piece)
                sent += len(piece)
            else:
                sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _parse(_read_to_end(sock), sent)


def send_whole(port: int, request: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)  # with Connection: close (uvicorn hangs up on a half-close)
        return _parse(_read_to_end(sock), len(request))


def test_a_megabyte_header_is_refused_before_it_is_all_sent(gateway: LiveServer) -> None:
    answer = send_until_answered(
        gateway.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ", total=1024 * 1024
    )
    assert answer.status == 431
    problem = answer.problem()
    assert problem["type"] == "/problems/header-fields-too-large"
    assert problem["limit_bytes"] == MAX_HEADER_BYTES
    assert problem["limit_fields"] == MAX_HEADERS
    assert answer.sent < 1024 * 1024  # answered and closed long before the header could end
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200


def test_101_header_fields_are_refused_and_100_pass(gateway: LiveServer) -> None:
    def with_fields(count: int) -> bytes:  # Host, Connection and count - 2 others
        fields = b"".join(b"X-F%d: v\r\n" % n for n in range(count - 2))
        return b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + fields + b"Connection: close\r\n\r\n"

    refused = send_whole(gateway.port, with_fields(MAX_HEADERS + 1))
    assert refused.status == 431
    assert refused.problem()["detail"].startswith("The request head has too many header fields")
    assert send_whole(gateway.port, with_fields(MAX_HEADERS)).status == 200


def _gw_request(bearer: str, pad: int) -> bytes:
    return (
        b"GET /gw/430100/edge/echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
        + bearer.encode()
        + b"\r\nConnection: close\r\nX-Pad: "
        + b"p" * pad
        + b"\r\n\r\n"
    )


def test_a_head_just_under_the_limit_reaches_the_upstream(
    gateway: LiveServer, app_client: App, upstream: _RecordingServer
) -> None:
    pad = MAX_HEADER_BYTES - len(_gw_request(app_client.bearer, 0)) - 16
    answer = send_whole(gateway.port, _gw_request(app_client.bearer, pad))
    assert answer.status == 200, answer.body
    assert answer.headers["x-xyb-upstream"] == "430100/edge"
    assert len(upstream.seen[-1]["x-pad"]) == pad


def test_a_head_over_the_limit_never_reaches_the_upstream(
    gateway: LiveServer, app_client: App, upstream: _RecordingServer
) -> None:
    before = len(upstream.seen)
    # Whole: the head arrives complete, 1 KiB over the limit.
    pad = MAX_HEADER_BYTES - len(_gw_request(app_client.bearer, 0)) + 1024
    whole = send_whole(gateway.port, _gw_request(app_client.bearer, pad))
    assert whole.status == 431
    whole.problem()
    # Streamed: a 512 KiB header in pieces (it was once forwarded upstream whole).
    head = _gw_request(app_client.bearer, 0)
    streamed = send_until_answered(gateway.port, head[: head.index(b"X-Pad: ") + 7], 512 * 1024)
    assert streamed.status == 431
    assert streamed.sent < 512 * 1024
    # The same call within the limits does reach it: the refusals above were not a routing slip.
    assert send_whole(gateway.port, _gw_request(app_client.bearer, 10)).status == 200
    assert len(upstream.seen) == before + 1
    assert len(upstream.seen[-1]["x-pad"]) == 10


def test_a_head_that_trickles_past_its_deadline_gets_408(gateway: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: a")
        # Slowloris sends a byte now and then; the deadline counts from the connection anyway.
        answer = _parse(_read_to_end(sock), 0)
    assert answer.status == 408
    assert answer.problem()["type"] == "/problems/request-timeout"


def _failed_logins(
    client: httpx.Client, app: App, forwarded_for: list[str], prefix: str
) -> list[int]:
    """Wrong-password logins, one per forwarded address, each for another unknown account,
    until the first 429; the statuses seen."""
    statuses = []
    for n, address in enumerate(forwarded_for):
        answer = client.post(
            "/identity/token",
            data={"grant_type": "password", "username": f"{prefix}{n}", "password": "wrong-pass"},
            auth=(app.client_id, app.secret),
            headers={"X-Forwarded-For": address},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
        assert answer.json()["error"] == "invalid_grant", answer.text
    return statuses


# The per-address throttle: 50 free failures, then locks of 1, 2, 4 ... s. 80 attempts reach a
# lock however slow the machine (each lock outlasts the next attempt sooner or later).
ATTEMPTS = 80


def test_a_rotating_forwarded_for_does_not_dodge_the_address_limit(
    gateway: LiveServer, app_client: App
) -> None:
    rotating = [f"198.51.100.{n}" for n in range(ATTEMPTS)]
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        statuses = _failed_logins(client, app_client, rotating, "rotating")
    # 127.0.0.1 is not a trusted proxy: every attempt counted against the socket's address.
    assert statuses[-1] == 429, statuses
    assert len(statuses) > 50  # the free failures were free


def test_a_trusted_proxy_forwards_the_callers_address(gateway: LiveServer, app_client: App) -> None:
    proxy = httpx.HTTPTransport(local_address=PROXY)
    with httpx.Client(base_url=gateway.url, timeout=30, transport=proxy) as client:
        statuses = _failed_logins(client, app_client, ["203.0.113.7"] * ATTEMPTS, "proxied")
        assert statuses[-1] == 429, statuses  # 203.0.113.7 is locked ...
        other = _failed_logins(client, app_client, ["203.0.113.8"], "other")
    assert other == [400]  # ... another caller behind the same proxy is not


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1:1"])
def test_the_documents_name_the_gateways_own_address_whatever_the_host(
    gateway: LiveServer, app_client: App, host: str
) -> None:
    # Development's default XYB_PUBLIC_URL: the address `xyb serve --port` binds.
    public_url = gateway.url
    discovery = httpx.get(
        f"{gateway.url}/.well-known/oauth-authorization-server", headers={"Host": host}
    ).json()
    assert discovery["jwks_uri"] == f"{public_url}/.well-known/jwks.json"
    assert discovery["token_endpoint"] == f"{public_url}/identity/token"
    merged = httpx.get(f"{gateway.url}/gw/openapi.json", headers={"Host": host}).json()
    assert merged["servers"] == [{"url": public_url}]
    assert "/gw/430100/edge/echo" in merged["paths"]


def test_a_refused_head_has_its_access_line(gateway: LiveServer) -> None:
    refused = send_whole(
        gateway.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"z" * 40_000 + b"\r\n\r\n"
    )
    assert refused.status == 431
    lines = [json.loads(line) for line in gateway.log().splitlines() if '"xyb.access"' in line]
    mine = [line for line in lines if line["request_id"] == refused.headers["x-request-id"]]
    assert mine == [
        {
            **mine[0],
            "method": None,
            "route": None,
            "status": 431,
            "problem": "header-fields-too-large",
        }
    ]
    assert "z" * 64 not in gateway.log()  # never the refused head itself
