"""The upstream transports: every connection's address is checked when it is made.

An upstream URL is judged at onboarding, but a host name is only a promise: DNS may answer with
the metadata service's address tomorrow. So the address each connection actually goes to is
judged again (``refused(address)``, see :mod:`app.connectors.addresses`), after resolution and
before connecting:

- aiohttp (the default, through httpx-aiohttp): a :class:`GuardedResolver` wraps aiohttp's own
  resolver in the connector's ``TCPConnector``; IP literals, which aiohttp never resolves, are
  judged before the request.
- httpx's own transport (``XYB_UPSTREAM_CLIENT=httpx``): a :class:`GuardedNetworkBackend` resolves,
  judges, and connects to the judged address; TLS still verifies and sends SNI for the host name.

A refused address surfaces as :class:`AddressRefused` (an ``OSError``), which the connector maps to
503 upstream-unavailable with a sentence that names neither the address nor the URL.

The aiohttp transport also sends exactly the request it is given: the URL as encoded (aiohttp's URL
parser would otherwise decode ``%3B`` to ``;`` and ``%2E`` to ``.``, changing the path an upstream
sees), and every header byte for byte (values are UTF-8, which the proxy checks).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable

import aiohttp
import anyio
import httpcore
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions
from yarl import URL

from app.connectors.addresses import AddressRefused, IPAddress

# True when a connection to the address must not be made.
AddressCheck = Callable[[IPAddress], bool]


class _RefusedConnect(httpcore.ConnectError, AddressRefused):
    """AddressRefused as httpcore raises it (its pool re-raises ``from None``, losing a cause)."""


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _refusal(host: str) -> AddressRefused:
    return AddressRefused(f"{host} is, or resolves only to, an address upstreams may never have")


def _judge(host: str, candidates: Iterable[str], refused: AddressCheck) -> list[str]:
    """The candidates that may be connected to; AddressRefused when none is left."""
    kept = []
    for text in candidates:
        address = _address(text)
        # An answer that is not an address at all is not connected to either.
        if address is not None and not refused(address):
            kept.append(text)
    if not kept:
        raise _refusal(host)
    return kept


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that drops refused addresses from ``inner``'s answers."""

    def __init__(self, inner: AbstractResolver, refused: AddressCheck) -> None:
        self._inner = inner
        self._refused = refused

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = set(_judge(host, (r["host"] for r in results), self._refused))
        return [r for r in results if r["host"] in kept]

    async def close(self) -> None:
        await self._inner.close()


class GuardedAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport with a guarded resolver, sending URL and headers as given."""

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        refused: AddressCheck,
        resolver: Callable[[], AbstractResolver] = aiohttp.DefaultResolver,
    ) -> None:
        super().__init__(limits=limits)
        self._refused = refused
        # Built with the client, inside the running loop (aiohttp's resolvers bind to it).
        self._resolver = resolver

    def get_client(self) -> aiohttp.ClientSession:
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
            limit=limit if limit is not None else 0,  # 0: no limit, as httpx's None
            resolver=GuardedResolver(self._resolver(), self._refused),
        )
        return aiohttp.ClientSession(connector=connector)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        literal = _address(host)
        if literal is not None and self._refused(literal):
            # aiohttp connects to an IP literal without asking the resolver.
            refusal = _refusal(host)
            raise httpx.ConnectError(str(refusal), request=request) from refusal
        raw = request.headers.raw
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            raw = [(k, v) for k, v in raw if k.lower() != b"transfer-encoding"]  # aiohttp's job
        try:
            headers = [(k.decode("ascii"), v.decode("utf-8")) for k, v in raw]
        except UnicodeDecodeError:
            raise httpx.LocalProtocolError("a header is not UTF-8", request=request) from None
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        with map_aiohttp_exceptions():
            response = await self.client.request(
                method=request.method,
                url=URL(str(request.url), encoded=True),
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
        extensions: dict[str, typing.Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that resolves, judges, and connects only to judged addresses."""

    def __init__(
        self, refused: AddressCheck, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._refused = refused
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` (an IP literal is its own answer); tests replace this."""
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        try:
            allowed = _judge(host, addresses, self._refused)
        except AddressRefused as refused:
            raise _RefusedConnect(str(refused)) from None
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in allowed:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("upstreams are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a :class:`GuardedNetworkBackend`."""

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        refused: AddressCheck,
        backend: GuardedNetworkBackend | None = None,
    ) -> None:
        super().__init__(limits=limits)
        # httpx offers no parameter for the network backend: the pool is built again with one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend or GuardedNetworkBackend(refused),
        )
