"""The request id travels in and out; the access log is one JSON line per request, without PII."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from app.core.logging import JsonFormatter, RequestIdFilter


class Capture(logging.Handler):
    """Collects formatted JSON lines from the gateway's loggers."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self, logger: str) -> list[dict[str, object]]:
        parsed = [json.loads(line) for line in self.lines]
        return [p for p in parsed if p["logger"] == logger]


@pytest.fixture
def logs() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger("xyb")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def test_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "trace-01:abc.DEF_9"})
    assert response.headers["x-request-id"] == "trace-01:abc.DEF_9"


@pytest.mark.parametrize(
    "incoming",
    [
        *("", "has space", "a" * 129, "bad\u00e9id", "-leading-dash", "x\ty", "<script>"),
        # A phone or an ID number would be written on every log line of the request.
        *("tel-13812345678", "11010519491231002X", "trace.43012119991212486"),
    ],
)
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/nowhere", headers=[(b"X-Request-ID", incoming.encode())])
    minted = response.headers["x-request-id"]
    assert minted != incoming
    assert len(minted) == 36  # a UUID
    assert response.json()["instance"] == minted


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_one_access_line_per_request_without_query_or_body(
    client: httpx.AsyncClient, logs: Capture
) -> None:
    secret_id = "11010519491231002X"
    await client.post(
        f"/problems?id_number={secret_id}&phone=13812345678",
        json={"id_number": secret_id},
        headers={"X-Request-ID": "req-log-1"},
    )
    await client.get("/problems/not-found", headers={"X-Request-ID": "req-log-2"})
    lines = logs.records("xyb.access")
    assert [line["request_id"] for line in lines] == ["req-log-1", "req-log-2"]
    first, second = lines
    assert first["method"] == "POST"
    assert first["route"] == "/problems"
    assert first["status"] == 405
    assert second["route"] == "/problems/{slug}"  # the template, never the raw path
    assert second["status"] == 200
    assert isinstance(second["duration_ms"], float)
    joined = "\n".join(logs.lines)
    assert secret_id not in joined
    assert "13812345678" not in joined
    assert "id_number" not in joined


async def test_every_log_line_during_a_request_carries_its_id(
    client: httpx.AsyncClient, app: object, logs: Capture
) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    inner = logging.getLogger("xyb.test")

    @app.get("/t/logs")
    async def log_something() -> dict[str, str]:
        inner.info("inside the handler")
        return {}

    await client.get("/t/logs", headers={"X-Request-ID": "req-inner"})
    handler_lines = logs.records("xyb.test")
    assert handler_lines
    assert handler_lines[0]["request_id"] == "req-inner"


async def test_unhandled_error_is_logged_with_stack_server_side(
    client: httpx.AsyncClient, app: object, logs: Capture
) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)

    @app.get("/t/crash")
    async def crash() -> None:
        raise ValueError("kaput")

    response = await client.get("/t/crash", headers={"X-Request-ID": "req-crash"})
    assert response.status_code == 500
    errors = logs.records("xyb.error")
    assert errors[0]["request_id"] == "req-crash"
    # The frames and the class, never the message (it may hold whatever the request carried).
    assert errors[0]["exc_type"] == "ValueError"
    assert "in crash\nValueError" in str(errors[0]["exc"])
    assert "kaput" not in json.dumps(errors[0])
    access = logs.records("xyb.access")
    assert access[0]["status"] == 500
