"""What crosses the proxy, over real sockets: `xyb serve` between a raw client and a recording
upstream (issue 9: cut bodies, path confusion, header bytes, a service pointing at the gateway)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.gateway.recorder import RecordingUpstream, recording_upstream
from tests.gateway.support import document_text, service_body
from tests.servers import LiveServer, live_gateway

pytestmark = pytest.mark.slow
TOKEN = "proxy-live-admin-token-0123456789abcdef0123"
FILINGS = "/gw/430100/filings"
SELF_DOCUMENT = """
openapi: 3.1.0
info: {title: the gateway itself, version: "1"}
paths:
  /catalog/items:
    get:
      operationId: items
      responses: {"200": {description: items}}
  /identity/token:
    post:
      operationId: token
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: {type: object}
      responses: {"200": {description: token}}
"""


def digest_header(hashed: bytes) -> str:
    """``Xyb-Request-Digest`` of ``METHOD SP target LF body`` (README: the request digest)."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(hashed).digest()).decode()}:"


async def raw_exchange(port: int, request: bytes, *, hang_up: bool) -> bytes:
    """Send ``request`` as is; hang up at once, or read the answer until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = b""
    if not hang_up:
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    await writer.wait_closed()
    return answer


def access_lines(server: LiveServer, route: str) -> list[dict[str, object]]:
    lines = []
    for line in server.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (record.get("logger"), record.get("route")) == (
            "xyb.access",
            route,
        ):
            lines.append(record)
    return lines


async def wait_for_access_lines(server: LiveServer, route: str, count: int) -> None:
    """The gateway logs a request once it is done with it (upstream call included)."""
    deadline = time.monotonic() + 30
    while len(access_lines(server, route)) < count:
        assert time.monotonic() < deadline, server.log()[-4000:]
        await asyncio.sleep(0.05)


async def setup(
    client: httpx.AsyncClient, server: LiveServer, upstream: RecordingUpstream
) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    for slug, url, document in (
        ("filings", upstream.url + "/api", document_text("filings.yaml")),
        ("self", server.url, SELF_DOCUMENT),
    ):
        created = await client.post(
            server.url + "/admin/services",
            json=service_body(slug=slug, upstream_url=url, document=document),
            headers=admin,
        )
        assert created.status_code == 201, created.text
        # 6. Onboarding says so when the upstream is the gateway's own listening address.
        warned = [w for w in created.json()["warnings"] if w["pointer"] == "/body/upstream_url"]
        assert len(warned) == (1 if slug == "self" else 0), created.json()["warnings"]
    app = (
        await client.post(
            server.url + "/admin/clients", json={"name": "app", "kind": "app"}, headers=admin
        )
    ).json()
    for slug in ("filings", "self"):
        granted = await client.post(
            server.url + f"/admin/clients/{app['client_id']}/grants",
            json={"division": "430100", "slug": slug},
            headers=admin,
        )
        assert granted.status_code == 201, granted.text
    issued = await client.post(
        server.url + "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    return {
        "authorization": f"Bearer {issued.json()['access_token']}",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    }


async def test_what_crosses_the_proxy_over_real_sockets(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
    }
    async with recording_upstream() as upstream:
        with live_gateway(tmp_path, env) as server:
            async with httpx.AsyncClient(timeout=30) as client:
                caller = await setup(client, server, upstream)
                bearer = caller["authorization"].encode()
                head = (
                    f"POST {FILINGS}/filings HTTP/1.1\r\nHost: t\r\n".encode()
                    + b"Authorization: "
                    + bearer
                    + b"\r\nContent-Type: text/plain\r\n"
                )

                # 3. 35 of 100 declared bytes, then the caller hangs up.
                await raw_exchange(
                    server.port, head + b"Content-Length: 100\r\n\r\n" + b"x" * 35, hang_up=True
                )
                # 3. A bad chunk size: uvicorn answers 400 itself; the app sees a disconnect.
                refused = await raw_exchange(
                    server.port,
                    head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                    hang_up=False,
                )
                assert refused.startswith(b"HTTP/1.1 400"), refused
                # A whole POST, for contrast: it arrives, once, whole.
                whole = await client.post(
                    server.url + f"{FILINGS}/filings",
                    content=b"y" * 35,
                    headers={
                        "authorization": caller["authorization"],
                        "content-type": "text/plain",
                    },
                )
                assert whole.status_code == 200, whole.text
                # The request digest over what the server handed the app (issue 11).
                assert whole.headers["xyb-request-digest"] == digest_header(
                    b"POST " + FILINGS.encode() + b"/filings\n" + b"y" * 35
                )
                await wait_for_access_lines(server, f"{FILINGS}/filings", 3)
                statuses = sorted(
                    line["status"] for line in access_lines(server, f"{FILINGS}/filings")
                )  # type: ignore[type-var]
                assert statuses == [200, 400, 400]
                posts = [r for r in upstream.requests if r.method == b"POST"]
                assert [(r.target, r.body) for r in posts] == [(b"/api/filings", b"y" * 35)]

                # 3. A whole POST with more bytes behind it in the same packet: HTTP reads them as
                # a second request, malformed. The POST reached the upstream, so its answer must
                # reach the caller (or it files again) before the 400 for the rest.
                pipelined = await raw_exchange(
                    server.port, head + b"Content-Length: 2\r\n\r\n{}GARBAGE", hang_up=False
                )
                assert pipelined.startswith(b"HTTP/1.1 200 "), pipelined
                refusal = pipelined[pipelined.index(b"HTTP/1.1 ", 1) :]
                assert refusal.startswith(b"HTTP/1.1 400 "), pipelined
                assert b"/problems/bad-request" in refusal
                posts = [r for r in upstream.requests if r.method == b"POST"]
                assert [(r.target, r.body) for r in posts[1:]] == [(b"/api/filings", b"{}")]

                # 5. '..;' behind percent-encoding is refused; other encodings cross as sent.
                confused = await raw_exchange(
                    server.port,
                    f"GET {FILINGS}/files/%2e%2e%3b HTTP/1.1\r\nHost: t\r\n".encode()
                    + b"Authorization: "
                    + bearer
                    + b"\r\nConnection: close\r\n\r\n",
                    hang_up=False,
                )
                assert confused.startswith(b"HTTP/1.1 400"), confused
                assert b"/problems/bad-path" in confused
                # 5 and 9: encoded sub-delimiters, a UTF-8 header and overriding headers.
                note = "中文 备注".encode()
                echoed = await client.get(
                    server.url + f"{FILINGS}/files/a%3Bb%2C",
                    headers=[
                        (b"authorization", bearer),
                        (b"x-note", note),
                        (b"x-http-method-override", b"DELETE"),
                    ],
                )
                assert echoed.status_code == 200, echoed.text
                last = upstream.requests[-1]
                assert (last.method, last.target) == (b"GET", b"/api/files/a%3Bb%2C")
                assert last.header(b"x-note") == [note]
                assert last.header(b"x-http-method-override") == []
                assert not any(r.target.startswith(b"/api/files/..") for r in upstream.requests)
                # uvicorn hands over the path and query apart: the digest joins them as sent.
                queried = await client.get(
                    server.url + f"{FILINGS}/echo?q=%E4%B8%AD&x=1",
                    headers={"authorization": caller["authorization"]},
                )
                assert queried.status_code == 200, queried.text
                assert queried.headers["xyb-request-digest"] == digest_header(
                    b"GET " + FILINGS.encode() + b"/echo?q=%E4%B8%AD&x=1\n"
                )

                # 6. A service whose upstream is the gateway itself: the inner call is refused
                # (508), so the gateway never reads its catalog or issues a token for it.
                looped = await client.get(
                    server.url + "/gw/430100/self/catalog/items",
                    headers={"authorization": caller["authorization"]},
                )
                assert looped.status_code == 508, looped.text
                assert looped.headers["x-xyb-upstream"] == "430100/self"
                token = await client.post(
                    server.url + "/gw/430100/self/identity/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": caller["client_id"],
                        "client_secret": caller["client_secret"],
                    },
                    headers={"authorization": caller["authorization"]},
                )
                assert token.status_code == 508, token.text
                assert "access_token" not in token.text
