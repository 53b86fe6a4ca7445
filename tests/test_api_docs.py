"""/docs and /redoc are served with their assets by the gateway: no CDN, nothing else reachable.

(tests/ops/test_dashboard_browser.py opens both pages in Chromium with the outside blocked.)
"""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from app.core.errors import PROBLEM_MEDIA_TYPE

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        (
            "/docs",
            {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"},
        ),
        ("/redoc", {"/docs/assets/redoc.standalone.js"}),
    ],
)
async def test_the_pages_load_only_the_gateways_assets(
    client: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    answer = await client.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert "://" not in html  # no CDN, no Google Fonts
    linked = set(ASSET.findall(html)) - {"/docs/assets/favicon.png"}
    assert linked == assets
    for url in linked | {"/docs/assets/favicon.png"}:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy
    # The inline start-up script runs by its hash; no other inline script would.
    for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-eval'" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


async def test_the_swagger_page_reads_the_gateways_document(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in html
    assert '<redoc spec-url="/openapi.json">' in (await client.get("/redoc")).text


@pytest.mark.parametrize(
    "name",
    ["core.py", "__init__.py", "..%2F__init__.py", "%2e%2e%2fcore.py", "swagger-ui.css.map"],
)
async def test_nothing_else_is_served_under_the_assets(
    client: httpx.AsyncClient, name: str
) -> None:
    answer = await client.get(f"/docs/assets/{name}")
    assert answer.status_code in (400, 404), name
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_the_pages_are_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
