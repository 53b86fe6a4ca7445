"""The proxy path with stubbed upstreams: forwarding, validation, error mapping, breaker, events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.events import Outcome, RecentEvents
from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.gateway.support import UPSTREAM, onboard, respx_transport

ID = "11010519491231002X"
RECORD = {
    "cert_no": "BDC430100-2023-0000001",
    "owner_id_number": ID,
    "address": "长沙",
    "area": 88.5,
}


@pytest.fixture(autouse=True)
async def _authorized(client: httpx.AsyncClient, grant_access: GrantAccess) -> None:
    """Calls through /gw carry a token of a client granted the services these tests use."""
    client.headers.update(await grant_access(("430100", "bdc"), ("430100", "capped")))


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


@pytest.fixture
async def bdc(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> int:
    created = await onboard(client, admin_headers, breaker_threshold=3, breaker_cooldown_s=60)
    return int(created["id"])


def event_client(app: FastAPI) -> str:
    client_id = events(app).snapshot()[-1].client_id
    assert client_id is not None
    assert client_id.startswith("cli_")
    return client_id


def events(app: FastAPI) -> RecentEvents:
    recent = app.state.recent_events
    assert isinstance(recent, RecentEvents)
    return recent


@pytest.mark.usefixtures("bdc")
async def test_get_is_forwarded_and_the_answer_passed_through(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI
) -> None:
    route = upstream.get("/records").respond(
        200, json=[RECORD], headers={"X-Upstream-Trace": "t1", "Cache-Control": "no-store"}
    )
    response = await client.get(
        "/gw/430100/bdc/records",
        params={"id_number": ID, "limit": "5"},
        headers={
            "X-Request-ID": "req-proxy-1",
            "X-XYB-Client": "spoofed",
            "Accept-Language": "zh-CN",
        },
    )
    assert response.status_code == 200
    assert response.json() == [RECORD]
    assert response.headers["x-xyb-upstream"] == "430100/bdc"
    assert response.headers["x-upstream-trace"] == "t1"
    assert response.headers["x-request-id"] == "req-proxy-1"
    sent = route.calls.last.request
    assert sent.url.path == "/api/v2/records"
    assert sent.url.params["id_number"] == ID
    assert sent.headers["x-request-id"] == "req-proxy-1"
    assert sent.headers["x-xyb-division"] == "430100"
    assert sent.headers["accept-language"] == "zh-CN"
    assert "authorization" not in sent.headers  # the caller's token stays with the gateway
    # The caller's spoof is dropped; the gateway names the verified client.
    assert sent.headers["x-xyb-client"] == event_client(app)
    event = events(app).snapshot()[-1]
    assert (event.service, event.operation_id, event.item_code) == (
        "430100/bdc",
        "listRecords",
        "430100-BDC-001",
    )
    assert event.status == 200
    assert event.outcome is Outcome.SUCCESS
    assert event.request_id == "req-proxy-1"
    assert event.event_id != event.request_id
    assert event.upstream_ms is not None


@pytest.mark.usefixtures("bdc")
async def test_upstream_errors_pass_through_unchanged(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI
) -> None:
    upstream.get("/records/BDC430100-2023-0000404").respond(
        404,
        json={"code": "E404", "message": "未找到"},
        headers={"Content-Type": "application/json"},
    )
    response = await client.get("/gw/430100/bdc/records/BDC430100-2023-0000404")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": "E404", "message": "未找到"}
    assert response.headers["x-xyb-upstream"] == "430100/bdc"
    event = events(app).snapshot()[-1]
    assert event.from_upstream
    assert event.outcome is Outcome.CALLER_ERROR


@pytest.mark.usefixtures("bdc")
async def test_literal_path_wins_over_template(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    upstream.get("/records/latest").respond(200, json=RECORD)
    response = await client.get("/gw/430100/bdc/records/latest")
    assert response.status_code == 200


@pytest.mark.usefixtures("bdc")
async def test_invalid_requests_never_reach_the_upstream(
    client: httpx.AsyncClient, upstream: respx.MockRouter, app: FastAPI
) -> None:
    response = await client.get("/gw/430100/bdc/records", params={"limit": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/validation-failed"
    assert {e["pointer"] for e in body["errors"]} == {"/query/id_number", "/query/limit"}
    assert "listRecords" not in body["detail"]
    bad_path = await client.get("/gw/430100/bdc/records/not-a-cert")
    assert [e["pointer"] for e in bad_path.json()["errors"]] == ["/path/cert_no"]
    bad_body = await client.post(
        "/gw/430100/bdc/records", json={"owner_id_number": "123", "area": -1}
    )
    assert bad_body.status_code == 422
    assert {e["pointer"] for e in bad_body.json()["errors"]} >= {
        "/body/owner_id_number",
        "/body/area",
        "/body/address",
    }
    malformed = await client.post(
        "/gw/430100/bdc/records", content=b'{"a": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["type"] == "/problems/malformed-body"
    wrong_type = await client.post(
        "/gw/430100/bdc/records", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["accepted"] == ["application/json"]
    missing = await client.post("/gw/430100/bdc/records")
    assert missing.status_code == 422
    assert len(upstream.calls) == 0
    outcomes = {e.outcome for e in events(app).snapshot()}
    assert outcomes == {Outcome.CALLER_ERROR}


@pytest.mark.usefixtures("bdc")
async def test_form_bodies_are_validated_and_forwarded(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    route = upstream.post("/applications").respond(201)
    bad = await client.post("/gw/430100/bdc/applications", data={"applicant": "张", "area": "0"})
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {"/body/applicant", "/body/area"}
    good = await client.post(
        "/gw/430100/bdc/applications", data={"applicant": "张三", "area": "75.5"}
    )
    assert good.status_code == 201
    assert route.calls.last.request.content == b"applicant=%E5%BC%A0%E4%B8%89&area=75.5"


@pytest.mark.usefixtures("bdc")
async def test_unknown_things_are_404_and_wrong_methods_405(client: httpx.AsyncClient) -> None:
    cases = {
        "/gw/999999/bdc/records": "not a known division",
        "/gw/430200/bdc/records": "No service 'bdc' is onboarded in 430200 (株洲市)",
        "/gw/430100/nope/records": "No service 'nope'",
        "/gw/430100/bdc/nothing/here": "No operation of 430100/bdc matches this GET path",
        "/gw/430100": "/gw/{division}/{service}/{path}",
    }
    for path, words in cases.items():
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert words in response.json()["detail"], (path, response.json()["detail"])
    response = await client.patch("/gw/430100/bdc/records/BDC430100-2023-0000001")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"


@pytest.mark.usefixtures("bdc")
@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (httpx.ConnectError("refused"), 503, "upstream-unavailable"),
        (httpx.ReadTimeout("slow"), 504, "upstream-timeout"),
        (httpx.RemoteProtocolError("garbage"), 502, "upstream-bad-response"),
    ],
)
async def test_transport_failures_map_to_gateway_problems(
    client: httpx.AsyncClient,
    upstream: respx.MockRouter,
    app: FastAPI,
    error: Exception,
    status: int,
    slug: str,
) -> None:
    upstream.get("/records/latest").mock(side_effect=error)
    response = await client.get("/gw/430100/bdc/records/latest")
    assert response.status_code == status
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["fault"] == "upstream"
    assert "x-xyb-upstream" not in response.headers  # the gateway's answer, not the upstream's
    assert events(app).snapshot()[-1].outcome is Outcome.UPSTREAM_ERROR


@pytest.mark.usefixtures("bdc")
async def test_get_is_retried_on_connection_failure_post_never(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    flaky = upstream.get("/records/latest").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=RECORD)]
    )
    assert (await client.get("/gw/430100/bdc/records/latest")).status_code == 200
    assert flaky.call_count == 2
    post = upstream.post("/records").mock(side_effect=httpx.ConnectError("refused"))
    response = await client.post(
        "/gw/430100/bdc/records", json={"owner_id_number": ID, "address": "a", "area": 1}
    )
    assert response.status_code == 503
    assert post.call_count == 1


@pytest.mark.usefixtures("bdc")
async def test_breaker_opens_after_failures_and_stops_calling(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    failing = upstream.get("/records/latest").respond(500, json={"code": "E500"})
    for _ in range(3):
        response = await client.get("/gw/430100/bdc/records/latest")
        assert response.status_code == 500  # the upstream's own 5xx, passed through
        assert response.headers["x-xyb-upstream"] == "430100/bdc"
    refused = await client.get("/gw/430100/bdc/records/latest")
    assert refused.status_code == 503
    assert refused.json()["type"] == "/problems/upstream-circuit-open"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert failing.call_count == 3  # not called while open


async def test_concurrency_cap_refuses_the_call_over_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], upstream: respx.MockRouter
) -> None:
    import asyncio

    await onboard(client, admin_headers, slug="capped", max_concurrency=1)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return httpx.Response(200, json=RECORD)

    upstream.get("/records/latest").mock(side_effect=slow)
    first = asyncio.create_task(client.get("/gw/430100/capped/records/latest"))
    await entered.wait()
    second = await client.get("/gw/430100/capped/records/latest")
    release.set()
    assert (await first).status_code == 200
    assert second.status_code == 503
    assert second.json()["type"] == "/problems/upstream-busy"
    assert second.headers["retry-after"] == "1"


@pytest.mark.usefixtures("bdc")
@pytest.mark.parametrize(
    "path",
    [
        "/records/..",
        "/records/%2e%2e",
        "/records/%2E%2E/secret",
        "/records/./latest",
        "/records/a%2Fb",
        "/records/a%5Cb",
        "/records/a%00b",
    ],
)
async def test_dot_segments_and_hidden_separators_never_reach_the_upstream(
    app: FastAPI, client: httpx.AsyncClient, upstream: respx.MockRouter, path: str
) -> None:
    # httpx would normalise dot segments before sending; speak ASGI to send them as-is.
    upstream.route().respond(200, json=RECORD)
    raw = ("/gw/430100/bdc" + path).encode()
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw.decode(),
        "raw_path": raw,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", client.headers["authorization"].encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert messages[0]["status"] == 400, path
    assert b"/problems/bad-path" in messages[1]["body"]
    assert not upstream.calls


@pytest.mark.usefixtures("bdc")
async def test_compression_is_only_asked_for_by_the_caller(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    route = upstream.get("/records/latest").respond(200, json=RECORD)
    del client.headers["accept-encoding"]  # httpx sends one by default
    await client.get("/gw/430100/bdc/records/latest")
    assert route.calls.last.request.headers["accept-encoding"] == "identity"
    await client.get("/gw/430100/bdc/records/latest", headers={"Accept-Encoding": "gzip"})
    assert route.calls.last.request.headers["accept-encoding"] == "gzip"
    assert route.calls.last.request.headers["via"] == "1.1 xyb-gateway"


@pytest.mark.usefixtures("bdc")
async def test_upstream_date_server_and_gateway_marks_are_not_relayed(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    upstream.get("/records/latest").respond(
        200,
        json=RECORD,
        headers={
            "Date": "Mon, 01 Jan 2001 00:00:00 GMT",
            "Server": "Apache/2.2.3 (CentOS)",
            "X-Powered-By": "PHP/5.2",
            "X-XYB-Upstream": "999999/spoofed",
        },
    )
    response = await client.get("/gw/430100/bdc/records/latest")
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers
    assert "date" not in response.headers  # the gateway's server adds its own
    assert response.headers.get_list("x-xyb-upstream") == ["430100/bdc"]


@pytest.mark.usefixtures("bdc")
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/api/v2/records/BDC430100-2023-0000009", "/gw/430100/bdc/records/BDC430100-2023-0000009"),
        (f"{UPSTREAM}/records/x", "/gw/430100/bdc/records/x"),
        ("https://elsewhere.example/x", "https://elsewhere.example/x"),
        ("/other/app", "/other/app"),
    ],
)
async def test_location_points_back_through_the_gateway(
    client: httpx.AsyncClient, upstream: respx.MockRouter, location: str, expected: str
) -> None:
    upstream.post("/records").respond(201, json=RECORD, headers={"Location": location})
    response = await client.post(
        "/gw/430100/bdc/records", json={"owner_id_number": ID, "address": "a", "area": 1}
    )
    assert response.headers["location"] == expected


@pytest.mark.usefixtures("bdc")
async def test_head_keeps_the_length_and_204_has_none(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    upstream.head("/records/latest").respond(200, headers={"Content-Length": "1234"})
    head = await client.head("/gw/430100/bdc/records/latest")
    assert head.status_code == 200
    assert head.headers["content-length"] == "1234"
    assert head.content == b""
    upstream.delete("/records/BDC430100-2023-0000001").respond(204)
    gone = await client.delete("/gw/430100/bdc/records/BDC430100-2023-0000001")
    assert gone.status_code == 204
    assert "content-length" not in gone.headers


@pytest.mark.usefixtures("bdc")
async def test_a_request_that_looped_back_is_refused(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    upstream.route().respond(200, json=RECORD)
    looped = await client.get(
        "/gw/430100/bdc/records/latest", headers={"Via": "1.1 proxy-a, 1.1 xyb-gateway"}
    )
    assert looped.status_code == 508
    assert looped.json()["type"] == "/problems/loop-detected"
    assert not upstream.calls
    other = await client.get("/gw/430100/bdc/records/latest", headers={"Via": "1.1 other-gw"})
    assert other.status_code == 200


@pytest.mark.usefixtures("bdc")
async def test_upstream_failures_do_not_leak_internal_addresses(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    upstream.get("/records/latest").mock(
        side_effect=httpx.ConnectError("Cannot connect to host 10.9.8.7:8443 ssl:default")
    )
    response = await client.get("/gw/430100/bdc/records/latest")
    assert response.status_code == 503
    assert "10.9.8.7" not in response.text
    assert "connection failed" in response.json()["detail"]
