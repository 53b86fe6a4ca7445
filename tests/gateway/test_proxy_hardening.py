"""What crosses the proxy to upstreams: whole bodies only, unambiguous paths, no overriding
headers, no loops on any route, checked upstream URLs, no upstream CORS policy (issue 9)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.events import Outcome, RecentEvents
from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.gateway.asgi import asgi_call
from tests.gateway.support import (
    UPSTREAM,
    document_text,
    onboard,
    proxy_of,
    respx_transport,
    service_body,
)

FILINGS = "/gw/430100/filings"


@pytest.fixture(autouse=True)
async def _authorized(client: httpx.AsyncClient, grant_access: GrantAccess) -> None:
    client.headers.update(await grant_access(("430100", "filings")))


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


@pytest.fixture
async def filings(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await onboard(
        client,
        admin_headers,
        slug="filings",
        name="公积金提取申请",
        document=document_text("filings.yaml"),
    )


def auth(client: httpx.AsyncClient) -> tuple[bytes, bytes]:
    return (b"authorization", client.headers["authorization"].encode())


def last_event(app: FastAPI) -> Any:
    recent = app.state.recent_events
    assert isinstance(recent, RecentEvents)
    return recent.snapshot()[-1]


# --- 3. a body that never arrived whole never reaches the upstream --------------------------


def _chunks(*parts: bytes, end: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": p, "more_body": True} for p in parts
    ]
    if end:
        messages.append({"type": "http.request", "body": b"", "more_body": False})
    return messages


CUT_BODIES = {
    # The caller declared 100 bytes, sent 35 and hung up (the server reports a disconnect).
    "hung-up": (
        [(b"content-length", b"100"), (b"content-type", b"text/plain")],
        [*_chunks(b"x" * 35), {"type": "http.disconnect"}],
    ),
    # A chunked body with a bad chunk size: the server answers 400 itself and the app, already
    # running, sees only a disconnect (BodyLimitMiddleware replays it).
    "bad-chunk": (
        [(b"transfer-encoding", b"chunked"), (b"content-type", b"text/plain")],
        [{"type": "http.disconnect"}],
    ),
    # What a lenient server could hand over: fewer bytes than declared, then "no more body".
    "short": (
        [(b"content-length", b"100"), (b"content-type", b"text/plain")],
        _chunks(b"x" * 35, end=True),
    ),
    "long": (
        [(b"content-length", b"10"), (b"content-type", b"text/plain")],
        _chunks(b"x" * 35, end=True),
    ),
    "te-and-cl": (
        [
            (b"content-length", b"35"),
            (b"transfer-encoding", b"chunked"),
            (b"content-type", b"text/plain"),
        ],
        _chunks(b"x" * 35, end=True),
    ),
    "te-gzip": (
        [(b"transfer-encoding", b"gzip, chunked"), (b"content-type", b"text/plain")],
        _chunks(b"x" * 35, end=True),
    ),
    "two-lengths": (
        [(b"content-length", b"35"), (b"content-length", b"36"), (b"content-type", b"text/plain")],
        _chunks(b"x" * 35, end=True),
    ),
}


@pytest.mark.usefixtures("filings")
@pytest.mark.parametrize("case", sorted(CUT_BODIES))
async def test_an_incomplete_or_ambiguous_body_never_reaches_the_upstream(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter, case: str
) -> None:
    route = upstream.post("/filings").respond(201)
    headers, messages = CUT_BODIES[case]
    answer = await asgi_call(
        app,
        "POST",
        f"{FILINGS}/filings".encode(),
        headers=[auth(client), *headers],
        messages=messages,
    )
    assert not route.called, case
    assert answer.status == 400, (case, answer.body)
    assert answer.json()["type"] == "/problems/incomplete-body"
    event = last_event(app)
    assert (event.status, event.outcome, event.operation_id) == (
        400,
        Outcome.CALLER_ERROR,
        "file",
    )


@pytest.mark.usefixtures("filings")
async def test_a_whole_body_in_chunks_is_forwarded_as_sent(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/filings").respond(201)
    answer = await asgi_call(
        app,
        "POST",
        f"{FILINGS}/filings".encode(),
        headers=[auth(client), (b"content-length", b"6"), (b"content-type", b"text/plain")],
        messages=_chunks(b"abc", b"def", end=True),
    )
    assert answer.status == 201
    assert route.calls.last.request.content == b"abcdef"


# --- 1. validation never holds the event loop for long -----------------------------------------

SLOW_PATTERN = "a[ab]{999}c"  # linear, but RE2 runs it on its slower engine (~9 µs per byte)
PATTERNS = "/gw/430100/patterns"
PATTERNS_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "patterns", "version": "1"},
    "paths": {
        "/slow": {
            "post": {
                "operationId": "slow",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"v": {"type": "string", "pattern": SLOW_PATTERN}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "ok"}},
            }
        },
        "/items": {
            "post": {
                "operationId": "items",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"n": {"type": "integer", "minimum": 0}},
                                },
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "ok"}},
            }
        },
    },
}


@pytest.fixture
async def patterns(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> None:
    await onboard(
        client, admin_headers, slug="patterns", name="patterns", document=PATTERNS_DOCUMENT
    )
    client.headers.update(await grant_access(("430100", "patterns")))


@pytest.fixture
def validation_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each validation the proxy ran: whether it ran on the test's (the event loop's) thread."""
    from app.gateway import request_checks

    on_loop: list[bool] = []
    real = request_checks.check_request
    loop_thread = threading.current_thread()

    def recording(*args: Any, **kwargs: Any) -> None:
        on_loop.append(threading.current_thread() is loop_thread)
        real(*args, **kwargs)

    monkeypatch.setattr(request_checks, "check_request", recording)
    return on_loop


@pytest.mark.usefixtures("filings")
async def test_a_large_body_is_validated_in_a_worker_thread(
    client: httpx.AsyncClient, upstream: respx.MockRouter, validation_threads: list[bool]
) -> None:
    """Validating a 10 MB body takes seconds of CPU: never on the loop every call shares."""
    upstream.post("/filings").respond(201)
    small = await client.post(f"{FILINGS}/filings", json={"v": 1})
    large = await client.post(f"{FILINGS}/filings", json={"v": ["x" * 100] * 1000})
    assert (small.status_code, large.status_code) == (201, 201)
    assert validation_threads == [True, False]


@pytest.mark.usefixtures("patterns")
async def test_a_small_body_that_is_costly_to_check_moves_off_the_event_loop(
    client: httpx.AsyncClient, upstream: respx.MockRouter, validation_threads: list[bool]
) -> None:
    """12 KB against a pattern RE2 runs on its slow engine: ~0.1 s, too long for the loop."""
    upstream.post("/slow").respond(201)
    text = "a" + "ab" * 6000  # no c: no match
    assert len(text) < 16 * 1024
    answer = await client.post(f"{PATTERNS}/slow", json={"v": text})
    assert answer.status_code == 422, answer.text
    # Tried on the loop, stopped before the pattern ran, validated again in a thread.
    assert validation_threads == [True, False]
    assert not upstream.calls


@pytest.mark.usefixtures("patterns")
async def test_a_value_too_long_for_its_pattern_is_refused_before_the_search(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    """One RE2 search cannot be stopped half-way: 100 KB on the slow engine is refused unread."""
    answer = await client.post(f"{PATTERNS}/slow", json={"v": "a" * 100_000})
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["pointer"] == "/body/v"
    assert "too long to be checked against its pattern" in error["detail"]
    assert not upstream.calls


@pytest.mark.usefixtures("patterns")
async def test_a_validation_stops_at_the_validation_timeout(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    proxy = proxy_of(app)
    proxy._checker._timeout = 0.001  # the test's XYB_VALIDATION_TIMEOUT
    items = [{"n": i} for i in range(50_000)]
    answer = await client.post(f"{PATTERNS}/items", json=items)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert "took longer than the gateway's time for validating a request" in error["detail"]
    assert not upstream.calls


async def test_no_free_validation_worker_is_503_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.gateway import request_checks

    release = threading.Event()

    def busy(*args: Any, **kwargs: Any) -> None:
        release.wait(timeout=30)

    monkeypatch.setattr(request_checks, "check_request", busy)
    checker = request_checks.RequestChecker(slots=1, timeout=0.2)
    big = b"x" * (request_checks.OFFLOAD_BODY_BYTES + 1)
    first = asyncio.create_task(checker.check(None, None, None, [], "", big))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    try:
        with pytest.raises(request_checks.ValidationBusy) as refused:
            await checker.check(None, None, None, [], "", big)  # type: ignore[arg-type]
        assert refused.value.problem.status == 503
        assert refused.value.headers == {"Retry-After": "1"}
    finally:
        release.set()
        await first


# --- 5. path and method confusion ------------------------------------------------------------


@pytest.mark.usefixtures("filings")
@pytest.mark.parametrize(
    "segment",
    [
        b"%2e%2e%3b",  # '..;': Tomcat reads it as '..'
        b"..;x",
        b".;x",
        b"%2E;jsessionid=1",
        b"..%3Bx=1",
        b"%c0%ae%c0%ae",  # overlong UTF-8 for '..'
        b"%e4%b8",  # truncated UTF-8
        b"%ff",
        b"%ef%bc%8e%ef%bc%8e",  # fullwidth '..' (NFKC folds it)
        b"a%0d%0ab",
        b"a%09b",
        # Separators in compatibility characters: two segments to an upstream that normalises.
        b"%EF%BC%8E%EF%BC%8E%EF%BC%8F%EF%BC%8E%EF%BC%8E",  # '．．／．．', NFKC '../..'
        b"..%EF%BC%8Fx",  # '..／x'
        b"%EF%BC%BC..",  # '＼..'
        b"%EF%B9%A8..",  # '﹨..' (small reverse solidus)
        b"%E2%84%85",  # '℅', NFKC 'c/o'
        b"%EF%BC%8E%EF%BC%8E%EF%BC%9Bx",  # '．．；x', NFKC '..;x'
        # Dots once spaces and invisible characters go (Windows and IIS trim trailing ones).
        b"..%20",
        b"%20..",
        b"...",
        b"....",
        b"..%E2%80%8B",  # zero-width space (Unicode Cf)
        b"%E2%80%8B.",
        b".%C2%A0.",  # no-break space
        b"..%E3%80%80",  # ideographic space
        b"%E2%80%A6",  # '…', NFKC '...'
        b"..%20;x",
        # A '%' without two hex digits (IIS decodes %u002e as '.').
        b"%u002e%u002e",
        b"a%zz",
        b"a%2",
        b"a%",
    ],
)
async def test_ambiguous_path_segments_are_refused(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter, segment: bytes
) -> None:
    upstream.route().respond(200)
    answer = await asgi_call(
        app, "GET", f"{FILINGS}/files/".encode() + segment, headers=[auth(client)]
    )
    assert answer.status == 400, segment
    assert answer.json()["type"] == "/problems/bad-path"
    assert not upstream.calls


@pytest.mark.usefixtures("filings")
@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"{FILINGS}/files/a b".encode(), b""),
        (f"{FILINGS}/files/".encode() + "中".encode(), b""),
        (f"{FILINGS}/files/a".encode(), b"x=1#frag"),
        (f"{FILINGS}/files/a".encode(), b"x=\xff"),
        (f"{FILINGS}/files/a".encode(), b"q=%u0027"),  # IIS reads "'"; the gateway checked 6 chars
    ],
)
async def test_a_target_that_is_not_visible_ascii_or_not_percent_encoded_is_refused(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter, path: bytes, query: bytes
) -> None:
    upstream.route().respond(200)
    answer = await asgi_call(app, "GET", path, query=query, headers=[auth(client)])
    assert answer.status == 400
    assert answer.json()["type"] == "/problems/bad-path"
    assert not upstream.calls


@pytest.mark.usefixtures("filings")
async def test_ordinary_encoded_segments_still_pass(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    route = upstream.route().respond(200)
    for name in (
        "%E4%B8%AD%E6%96%87.pdf",
        "a;v=1",
        "..a",
        "a..",
        "%2e%2ea",
        "%3b",
        "%20",
        ".%20a",
        "a%20..",
        "x%25y",
        "%E2%80%8B",
        "%C2%BD",  # '½': NFKC '1⁄2', a fraction slash, not a separator
    ):
        response = await client.get(f"{FILINGS}/files/{name}")
        assert response.status_code == 200, (name, response.text)
        assert route.calls.last.request.url.raw_path == f"/api/v2/files/{name}".encode()


@pytest.mark.usefixtures("filings")
async def test_method_url_and_address_overrides_are_not_forwarded(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    route = upstream.get("/echo").respond(200)
    overriding = {
        "X-HTTP-Method-Override": "DELETE",
        "X-HTTP-Method": "DELETE",
        "X-Method-Override": "DELETE",
        "X-Original-Method": "DELETE",
        "X-Original-URL": "/admin/delete-all",
        "X-Original-URI": "/admin/delete-all",
        "X-Rewrite-URL": "/admin/delete-all",
        "X-Host": "admin.internal",
        "X-Client-IP": "127.0.0.1",
        "True-Client-IP": "127.0.0.1",
        "X-Cluster-Client-IP": "127.0.0.1",
        "Expect": "100-continue",
        "X-Original-Host": "admin.internal",
        "X-Envoy-Original-Path": "/admin/delete-all",
        "X-Envoy-Max-Retries": "5",  # Envoy in front of the upstream would repeat a POST
        "X-Rewrite-URI": "/admin/delete-all",
        "X-MS-Original-URL": "/admin/delete-all",
        "X-HTTP-DestinationURL": "/admin/delete-all",
        "Destination": "/admin/delete-all",  # WebDAV MOVE/COPY target
        "X-ProxyUser-Ip": "127.0.0.1",
        "CF-Connecting-IP": "127.0.0.1",
        "Fastly-Client-IP": "127.0.0.1",
        "X-Original-Forwarded-For": "127.0.0.1",
        "X-Override-URL": "/admin/delete-all",
        "Front-End-Https": "on",
        "X-ARR-SSL": "2048|256|CN=forged",
        "X-ARR-ClientCert": "MIIBforged",
        "Max-Forwards": "0",
    }
    response = await client.get(
        f"{FILINGS}/echo", headers={**overriding, "Accept-Language": "zh-CN"}
    )
    assert response.status_code == 200
    sent = route.calls.last.request
    assert sent.method == "GET"
    assert sent.url.raw_path == b"/api/v2/echo"
    for name in overriding:
        assert name.lower() not in sent.headers, name
    assert sent.headers["accept-language"] == "zh-CN"  # the ordinary ones still cross


@pytest.mark.usefixtures("filings")
@pytest.mark.parametrize(
    "header",
    [
        (b"x-note", b"\xff\xfe"),  # not UTF-8
        (b"x-note", b"a\x00b"),
        (b"x-note", b"a\r\nx-injected: y"),
        (b"x note", b"y"),
    ],
)
async def test_headers_that_cannot_cross_unchanged_are_refused(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter, header: tuple[bytes, bytes]
) -> None:
    upstream.route().respond(200)
    answer = await asgi_call(app, "GET", f"{FILINGS}/echo".encode(), headers=[auth(client), header])
    assert answer.status == 400
    assert answer.json()["type"] == "/problems/bad-header"
    assert not upstream.calls


# --- 6. loop detection on every route ----------------------------------------------------------


async def test_a_request_that_looped_back_is_refused_on_every_route(
    client: httpx.AsyncClient, grant_access: GrantAccess
) -> None:
    looped = {"Via": "1.1 xyb-gateway"}
    catalog = await client.get("/catalog/items", headers=looped)
    assert catalog.status_code == 508
    assert catalog.json()["type"] == "/problems/loop-detected"
    token = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        headers=looped,
    )
    assert token.status_code == 508
    assert "access_token" not in token.text
    root = await client.get("/", headers={"Via": "1.0 proxy-a, 1.1 xyb-gateway"})
    assert root.status_code == 508
    assert (await client.get("/catalog/items", headers={"Via": "1.1 other-gw"})).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000/api",
        "http://[::1]:8000",
        "http://127.0.0.1:8000/",
    ],
)
async def test_onboarding_warns_when_the_upstream_is_the_gateway_itself(
    client: httpx.AsyncClient, admin_headers: dict[str, str], url: str
) -> None:
    plan = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json=service_body(slug="self", upstream_url=url, document=document_text("filings.yaml")),
        headers=admin_headers,
    )
    assert plan.status_code == 200, plan.text
    warnings = [w for w in plan.json()["warnings"] if w["pointer"] == "/body/upstream_url"]
    assert len(warnings) == 1
    assert "this gateway's own address" in warnings[0]["message"]
    other = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json=service_body(slug="self", upstream_url="http://127.0.0.1:8001"),
        headers=admin_headers,
    )
    assert not [w for w in other.json()["warnings"] if w["pointer"] == "/body/upstream_url"]


# --- 7. upstream URLs are parsed, judged and stored normalised ---------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9150/\r\nX-Injected: y",
        " http://127.0.0.1:9150/api ",
        "http://127.0.0.1:9150/a%0d%0aX-Injected:%20y",
        "http://[::ffff:127.0.0.1]:9150",
    ],
)
async def test_upstream_urls_that_could_inject_or_mislead_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], url: str
) -> None:
    response = await client.post(
        "/admin/services", json=service_body(upstream_url=url), headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/body/upstream_url"]


async def test_the_normalised_upstream_url_is_stored(
    client: httpx.AsyncClient, admin_headers: dict[str, str], upstream: respx.MockRouter
) -> None:
    created = await onboard(client, admin_headers, upstream_url="HTTP://0x7F.1:9100/api/v2/")
    assert created["upstream_url"] == UPSTREAM
    shown = await client.get(f"/admin/services/{created['id']}", headers=admin_headers)
    assert shown.json()["upstream_url"] == UPSTREAM


@pytest.mark.parametrize(
    "credential",
    [
        {"header": "Authorization", "value": "Bearer abc\r\nX-Injected: y"},
        {"header": "Authorization", "value": " Bearer abc"},
        {"header": "Transfer-Encoding", "value": "chunked"},
        {"header": "Host", "value": "admin.internal"},
        {"header": "X-XYB-Assertion", "value": "forged"},
    ],
)
async def test_an_upstream_credential_cannot_inject_or_reframe_requests(
    client: httpx.AsyncClient, admin_headers: dict[str, str], credential: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services",
        json=service_body(upstream_auth=credential),
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"].startswith("/body/upstream_auth/")


# --- 16. the upstream's CORS (and other origin-wide) policy is not relayed ---------------------


@pytest.mark.usefixtures("filings")
async def test_origin_wide_policy_headers_from_upstreams_are_dropped(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    origin_wide = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Headers": "Authorization",
        "Access-Control-Expose-Headers": "X-Secret",
        "Timing-Allow-Origin": "*",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
        "Alt-Svc": 'h2="evil.example:443"',
        "Clear-Site-Data": '"cookies", "storage"',
        "NEL": '{"report_to": "up", "max_age": 31536000}',
        "Report-To": '{"group": "up", "endpoints": [{"url": "https://evil.example/r"}]}',
    }
    upstream.get("/echo").respond(200, json={}, headers={**origin_wide, "X-Upstream-Trace": "t1"})
    response = await client.get(f"{FILINGS}/echo", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    for name in origin_wide:
        assert name.lower() not in response.headers, name
    assert response.headers["x-upstream-trace"] == "t1"
