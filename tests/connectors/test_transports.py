"""Connect-time address checks and byte-exact forwarding, through both production transports."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from app.connectors.addresses import IPAddress
from app.connectors.base import ConnectorConfig, UpstreamRequest, UpstreamUnavailable
from app.connectors.municipal import MunicipalConnector
from app.connectors.transports import (
    GuardedAiohttpTransport,
    GuardedHTTPTransport,
    GuardedNetworkBackend,
    GuardedResolver,
)
from app.services.upstream_policy import UpstreamPolicy
from tests.gateway.recorder import recording_upstream

METADATA = "169.254.169.254"
# Under "*" anything may be onboarded by name; the address is what is judged at connect time.
REFUSED = UpstreamPolicy.parse("*").refused_at_connect
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


class FakeResolver(AbstractResolver):
    """Answers every name with the given addresses, as a DNS server under attack might."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


class FakeBackend(GuardedNetworkBackend):
    def __init__(self, refused: Callable[[IPAddress], bool], *addresses: str) -> None:
        super().__init__(refused)
        self.addresses = addresses

    async def resolve(self, host: str, port: int) -> list[str]:
        return list(self.addresses)


def aiohttp_transport(*addresses: str) -> httpx.AsyncBaseTransport:
    return GuardedAiohttpTransport(
        limits=LIMITS, refused=REFUSED, resolver=lambda: FakeResolver(*addresses)
    )


def httpx_transport(*addresses: str) -> httpx.AsyncBaseTransport:
    return GuardedHTTPTransport(
        limits=LIMITS, refused=REFUSED, backend=FakeBackend(REFUSED, *addresses)
    )


TRANSPORTS = {"aiohttp": aiohttp_transport, "httpx": httpx_transport}


def connector(base_url: str, transport: httpx.AsyncBaseTransport) -> MunicipalConnector:
    return MunicipalConnector(
        ConnectorConfig(
            service="430100/test",
            base_url=base_url,
            transport=transport,
            max_connections=4,
            buffer_bytes=1024 * 1024,
            max_response_bytes=1024 * 1024,
            retries=0,
        )
    )


def request(
    headers: list[tuple[str, str]] | None = None, path: str = "/items/1"
) -> UpstreamRequest:
    return UpstreamRequest(
        method="GET",
        path=path,
        query="",
        headers=headers or [],
        body=b"",
        timeout=5.0,
        idempotent=False,
        request_id="req-1",
        division="430100",
    )


async def test_the_resolver_drops_refused_answers_and_refuses_when_none_is_left() -> None:
    inner = FakeResolver(METADATA)
    resolver = GuardedResolver(inner, REFUSED)
    with pytest.raises(OSError, match=r"metadata\.example\.gov\.cn"):
        await resolver.resolve("metadata.example.gov.cn", 80)
    assert inner.asked == ["metadata.example.gov.cn"]
    mixed = GuardedResolver(FakeResolver(METADATA, "10.1.2.3", "::ffff:169.254.169.254"), REFUSED)
    assert [r["host"] for r in await mixed.resolve("city.example.gov.cn", 80)] == ["10.1.2.3"]
    # Listed explicitly, the metadata network is the operator's decision.
    listed = UpstreamPolicy.parse("*,169.254.0.0/16").refused_at_connect
    allowed = GuardedResolver(FakeResolver(METADATA), listed)
    assert [r["host"] for r in await allowed.resolve("metadata.example", 80)] == [METADATA]


@pytest.mark.parametrize("kind", sorted(TRANSPORTS))
async def test_a_name_resolving_to_the_metadata_address_is_never_connected_to(kind: str) -> None:
    c = connector("http://upstream.example.gov.cn:8080/api", TRANSPORTS[kind](METADATA))
    try:
        with pytest.raises(UpstreamUnavailable) as refused:
            await c.send(request())
    finally:
        await c.aclose()
    assert "its address is not one the gateway may call" in refused.value.detail
    assert METADATA not in refused.value.detail
    assert "upstream.example" not in refused.value.detail


@pytest.mark.parametrize("kind", sorted(TRANSPORTS))
async def test_an_ip_literal_of_a_refused_address_is_never_connected_to(kind: str) -> None:
    # Stored before the onboarding check existed, say: the transport refuses it on its own.
    c = connector(f"http://[::ffff:{METADATA}]:8080", TRANSPORTS[kind]())
    try:
        with pytest.raises(UpstreamUnavailable) as refused:
            await c.send(request())
    finally:
        await c.aclose()
    assert "its address is not one the gateway may call" in refused.value.detail


@pytest.mark.parametrize("kind", sorted(TRANSPORTS))
async def test_judged_addresses_are_connected_and_bytes_cross_unchanged(kind: str) -> None:
    async with recording_upstream() as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        # The name resolves to the metadata address and to the loopback upstream: only the
        # latter is connected to.
        transport = TRANSPORTS[kind](METADATA, "127.0.0.1")
        c = connector(f"http://upstream.example.gov.cn:{port}/api", transport)
        try:
            answer = await c.send(
                request(
                    # latin-1-decoded bytes, as the proxy hands them over.
                    headers=[("x-note", "中文 note".encode().decode("latin-1"))],
                    path="/files/%2e%3b/a%3Db%2C%7e",
                )
            )
        finally:
            await c.aclose()
    assert answer.status == 200
    sent = upstream.requests[-1]
    assert sent.header(b"x-note") == ["中文 note".encode()]
    # The path as the gateway checked it: not re-encoded, not decoded by the client's URL parser.
    assert sent.target == b"/api/files/%2e%3b/a%3Db%2C%7e"
    assert sent.header(b"host") == [f"upstream.example.gov.cn:{port}".encode()]


def test_refused_address_kinds() -> None:
    for text in (METADATA, "0.0.0.0", "224.0.0.1", "fe80::1", "::", "64:ff9b::a9fe:a9fe"):
        assert REFUSED(ipaddress.ip_address(text)), text
    for text in ("127.0.0.1", "10.1.2.3", "::1", "2400:3200::1"):
        assert not REFUSED(ipaddress.ip_address(text)), text
