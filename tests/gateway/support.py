"""Helpers for gateway tests: documents, onboarding through the admin API, stub upstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import respx
from fastapi import FastAPI

from app.gateway.proxy import GatewayProxy
from app.gateway.routetable import TransportFactory

DOCUMENTS = Path(__file__).parent / "documents"
UPSTREAM = "http://127.0.0.1:9100/api/v2"


def document_text(name: str = "bdc.yaml") -> str:
    return (DOCUMENTS / name).read_text(encoding="utf-8")


def service_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "division": "430100",
        "slug": "bdc",
        "name": "长沙市不动产登记查询",
        "upstream_url": UPSTREAM,
        "document": document_text(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def onboard(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/admin/services", json=service_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def respx_transport(router: respx.MockRouter) -> TransportFactory:
    """Every upstream goes through ``router`` (unmatched calls fail the test loudly)."""

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(router.async_handler)

    return factory


def proxy_of(app: FastAPI) -> GatewayProxy:
    """The app's GatewayProxy (held by the /gw shortcut middleware)."""
    stack: Any = app.middleware_stack
    while stack is not None:
        proxy = getattr(stack, "proxy", None)
        if isinstance(proxy, GatewayProxy):
            return proxy
        stack = getattr(stack, "app", None)
    raise AssertionError("no GatewayProxy in the middleware stack")
