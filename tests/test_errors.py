"""Every error the gateway makes is problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from app.core.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


class Address(BaseModel):
    city: str
    postcode: str = Field(pattern=r"^\d{6}$")


class Item(BaseModel):
    name: str
    quantity: int = Field(ge=1)
    address: Address


def add_test_routes(app: FastAPI) -> None:
    @app.get("/t/items")
    async def list_items(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.post("/t/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.delete("/t/items")
    async def delete_items() -> dict[str, str]:
        return {}

    @app.post("/admin/echo-size")
    async def admin_echo(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body.get("blob", ""))}

    @app.get("/t/boom")
    async def boom() -> None:
        raise RuntimeError("secret-internal-detail 11010519491231002X")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"body_limit_default": 64 * 1024, "body_limit_admin": 256 * 1024}
    )


@pytest.fixture
async def app(app: FastAPI) -> FastAPI:
    add_test_routes(app)
    return app


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["instance"] == response.headers["x-request-id"]
    assert isinstance(body["type"], str)
    assert body["type"].startswith("/problems/")
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/no/such/thing"), 404)
    assert body["type"] == "/problems/not-found"
    assert "/no/such/thing" not in str(body["detail"])  # paths may carry personal data
    assert body["fault"] == "caller"


async def test_problem_type_uri_resolves(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nowhere"), 404)
    described = await client.get(str(body["type"]))
    assert described.status_code == 200
    assert described.json()["status"] == 404
    listing = (await client.get("/problems")).json()
    assert {"/problems/not-found", "/problems/payload-too-large"} <= {p["type"] for p in listing}


async def test_wrong_method_is_405_with_every_allowed_method(client: httpx.AsyncClient) -> None:
    response = await client.put("/t/items", json={})
    body = assert_problem(response, 405)
    # Three routes share the path: Allow must name all of them, not the first one found.
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST", "DELETE"} <= allowed
    assert "PUT" not in allowed
    assert set(body["allow"]) == allowed


async def test_validation_errors_are_422_with_pointers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/t/items", json={"name": "x", "quantity": 0, "address": {"postcode": "4100"}}
    )
    body = assert_problem(response, 422)
    assert body["type"] == "/problems/validation-failed"
    pointers = {e["pointer"]: e for e in body["errors"]}
    assert set(pointers) == {"/body/quantity", "/body/address/city", "/body/address/postcode"}
    assert all(e["detail"] for e in pointers.values())
    assert "3 parts" in str(body["detail"])


async def test_query_validation_error_points_into_query(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/t/items", params={"limit": "many"}), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/query/limit"]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/t/items", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == "/problems/malformed-body"
    assert "not valid JSON" in str(body["detail"])


async def test_unexpected_exception_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/t/boom", headers={"x-request-id": "req-boom-1"})
    body = assert_problem(response, 500)
    assert body["instance"] == "req-boom-1"
    assert body["fault"] == "gateway"
    for leak in ("secret-internal-detail", "Traceback", "RuntimeError", "11010519491231002X"):
        assert leak not in response.text


async def test_declared_length_over_limit_is_413_unread(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/t/items", content=b"x" * (64 * 1024 + 1), headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 413)
    assert body["limit_bytes"] == 64 * 1024
    assert response.headers["connection"] == "close"


async def test_limits_differ_per_route_family(client: httpx.AsyncClient) -> None:
    blob = "y" * (100 * 1024)  # over the default limit, under the admin one
    assert (await client.post("/admin/echo-size", json={"blob": blob})).json() == {
        "size": len(blob)
    }
    assert_problem(await client.post("/t/items", json={"name": blob}), 413)


class CountingBody:
    """A chunked body (no Content-Length) that counts how much of it was consumed."""

    def __init__(self, total: int, chunk: int = 16 * 1024) -> None:
        self.total = total
        self.chunk = chunk
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            piece = b"z" * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


async def test_chunked_30mb_body_is_refused_after_limit_plus_64k(
    client: httpx.AsyncClient,
) -> None:
    body = CountingBody(30 * 1024 * 1024)
    response = await client.post(
        "/t/items", content=body, headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert body.sent <= 64 * 1024 + 64 * 1024


async def test_chunked_body_under_limit_reaches_handler_intact(client: httpx.AsyncClient) -> None:
    payload = (
        b'{"name": "\xe9\x95\xbf\xe6\xb2\x99", "quantity": 2, '
        + b'"address": {"city": "c", "postcode": "410000"}}'
    )

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    response = await client.post(
        "/t/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "长沙"


async def test_invalid_content_length_is_400(app: FastAPI) -> None:
    # httpx always writes a correct Content-Length, so speak ASGI directly.
    messages: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/t/items",
        "raw_path": b"/t/items",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"-5"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = messages[0]
    assert start["status"] == 400
    assert (b"content-type", PROBLEM_MEDIA_TYPE.encode()) in start["headers"]


async def test_405_lists_methods_of_included_routers(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    collection = await client.patch("/admin/services", headers=admin_headers)
    assert set(collection.headers["allow"].split(", ")) == {"GET", "POST"}
    one = await client.patch("/admin/services/1", headers=admin_headers)
    assert set(one.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE"}
