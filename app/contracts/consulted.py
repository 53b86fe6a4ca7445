"""Upstreams the gateway consults itself, and the plain client contract replay reaches them with.

A contract's ``connector`` names what calls its provider. City systems are called by a connector
on the proxy path (``municipal``). The registers the gateway consults for its own decisions (the
market-supervision enterprise register, when a legal person registers) are called by the
product's own small clients, which send a plain HTTP request and add nothing: their contracts
name the connector ``registers``, and replay sends their interactions the same plain way. They
are no connector: a service cannot be onboarded behind them.
"""

from __future__ import annotations

import asyncio

import httpx

from app.connectors.base import (
    ConnectorConfig,
    UpstreamBadResponse,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# Connector names of the upstreams the gateway consults directly (not through /gw).
CONSULTED_CONNECTORS = frozenset({"registers"})
# Connectors that translate a canonical API into their upstream's own protocol (elicense: the
# gateway's e-license API over the registry's POST-and-envelope protocol; hotline: the gateway's
# hotline API over the 12345 ticket system's). Their contracts describe that protocol, the
# connector's upstream side, so they are replayed as plain HTTP: sent through the connector they
# would be read as canonical API calls.
TRANSLATING_CONNECTORS = frozenset({"alliance", "elicense", "hotline"})


class PlainHTTPClient:
    """Sends a request as it is (method, path, query, headers, body) and reads the whole answer."""

    kind = "registers"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        url = self._base + request.path + (f"?{request.query}" if request.query else "")
        outgoing = httpx.Request(
            request.method,
            url,
            headers=list(request.headers),
            content=request.body,
            extensions={"timeout": httpx.Timeout(request.timeout).as_dict()},
        )
        try:
            async with asyncio.timeout(request.timeout):
                answer = await self.config.transport.handle_async_request(outgoing)
                try:
                    body = await answer.aread()
                finally:
                    await answer.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeout(f"{self.config.service} did not answer in time") from None
        except httpx.TransportError:
            raise UpstreamUnavailable(f"{self.config.service} cannot be reached") from None
        if len(body) > self.config.max_response_bytes:
            raise UpstreamBadResponse(f"{self.config.service} answered too much")
        return UpstreamResponse(
            status=answer.status_code, headers=list(answer.headers.multi_items()), body=body
        )

    async def aclose(self) -> None:
        await self.config.transport.aclose()
