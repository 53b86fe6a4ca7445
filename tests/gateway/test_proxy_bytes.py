"""Through each production transport (aiohttp, httpx) to a socket upstream: what the gateway
checked is what the upstream receives, byte for byte (issue 9, items 5 and 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.config import Settings
from tests.conftest import GrantAccess
from tests.gateway.recorder import RecordingUpstream, recording_upstream
from tests.gateway.support import document_text, onboard

FILINGS = "/gw/430100/filings"


@pytest.fixture(params=["aiohttp", "httpx"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The real transports (no transport_factory override), one run per upstream client."""
    return settings.model_copy(update={"upstream_client": request.param})


@pytest.fixture
async def upstream(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> AsyncIterator[RecordingUpstream]:
    async with recording_upstream() as recorder:
        await onboard(
            client,
            admin_headers,
            slug="filings",
            name="公积金提取申请",
            upstream_url=recorder.url + "/api",
            document=document_text("filings.yaml"),
        )
        client.headers.update(await grant_access(("430100", "filings")))
        yield recorder


async def test_a_non_ascii_header_value_crosses_byte_for_byte(
    client: httpx.AsyncClient, upstream: RecordingUpstream
) -> None:
    note = "中文 备注 ü".encode()
    response = await client.get(f"{FILINGS}/echo", headers=[(b"x-note", note)])
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].header(b"x-note") == [note]


async def test_the_path_crosses_as_checked(
    client: httpx.AsyncClient, upstream: RecordingUpstream
) -> None:
    # aiohttp's URL parser would send /files/a;b=c,~: another resource to a Tomcat upstream.
    response = await client.get(f"{FILINGS}/files/a%3Bb%3Dc%2C%7E")
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].target == b"/api/files/a%3Bb%3Dc%2C%7E"


async def test_a_header_value_that_is_not_utf8_is_refused_before_the_upstream(
    client: httpx.AsyncClient, upstream: RecordingUpstream
) -> None:
    response = await client.get(f"{FILINGS}/echo", headers=[(b"x-note", b"\xa4\xa4\xa4\xe5")])
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-header"
    assert upstream.requests == []
