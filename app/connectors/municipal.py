"""The generic REST connector for city and department systems."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError

from app.connectors.base import (
    ConnectorConfig,
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
)
from app.connectors.errors import map_transport_error
from app.connectors.headers import (
    forwardable_request_headers,
    forwardable_response_headers,
    with_via,
)

_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError, HttpProcessingError, OSError)
_BACKOFF_BASE_S = 0.05


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter, so retries from many callers do not arrive together."""
    jitter: float = random.uniform(0.5, 1.5)  # noqa: S311
    return float(_BACKOFF_BASE_S * pow(2.0, attempt) * jitter)


def _declared(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class MunicipalConnector:
    """Forwards method, path, query, body and safe headers to one upstream over a pooled client.

    Adds ``X-Request-ID``, ``X-XYB-Division`` and, when known, ``X-XYB-Client``. Retries only
    requests that are idempotent and certainly never reached the upstream (connection refused),
    at most ``retries`` times with jittered backoff, all within the request's timeout.

    Requests go straight to the transport, not through ``httpx.AsyncClient``: a client keeps a
    cookie jar, and one shared jar would hand one caller's upstream cookies to the next caller.
    (Skipping the client's redirect, auth and cookie layers is also a third of its CPU cost.)
    """

    kind = "municipal"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._transport = config.transport

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _build(self, request: UpstreamRequest) -> httpx.Request:
        ours = {name.lower() for name, _ in request.extra_headers}
        # A caller never supplies a header the gateway sets (the service's credential included).
        theirs = [(n, v) for n, v in forwardable_request_headers(request.headers) if n not in ours]
        forwarded = with_via(theirs, self.config.gateway_id)
        if not any(name == "accept-encoding" for name, _ in forwarded):
            # Otherwise the client library asks for gzip on the caller's behalf and the caller,
            # who never said it accepts gzip, gets a compressed body.
            forwarded.append(("accept-encoding", "identity"))
        # The caller's values are latin-1-decoded bytes: encoded back, they cross unchanged (as
        # str, httpx would encode them as ASCII and fail on the first non-ASCII byte).
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in forwarded]
        own = [
            *request.extra_headers,
            ("x-request-id", request.request_id),
            ("x-xyb-division", request.division),
        ]
        if request.client_id is not None:
            own.append(("x-xyb-client", request.client_id))
        headers.extend((n.encode("ascii"), v.encode("utf-8")) for n, v in own)
        url = self._base + request.path
        if request.query:
            url = f"{url}?{request.query}"
        return httpx.Request(
            request.method,
            url,
            headers=headers,
            content=request.body if request.body else None,
        )

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        service = self.config.service
        attempts = 1 + (self.config.retries if request.idempotent else 0)
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(request.timeout):
                for attempt in range(attempts):
                    try:
                        response = await self._transport.handle_async_request(self._build(request))
                        break
                    except _TRANSPORT_ERRORS as exc:
                        error = map_transport_error(exc, service=service, timeout=request.timeout)
                        if error.not_sent and attempt + 1 < attempts:
                            await asyncio.sleep(_backoff(attempt))
                            continue
                        raise error from exc
                assert response is not None
                return await self._read(response, request.timeout)
        except TimeoutError:
            if response is not None:
                await response.aclose()
            raise UpstreamTimeout(
                f"The upstream of {service} did not answer within {request.timeout:g} s."
            ) from None
        except ConnectorError:
            if response is not None:
                await response.aclose()
            raise

    async def _read(self, response: httpx.Response, timeout: float) -> UpstreamResponse:  # noqa: ASYNC109
        """Buffer the body up to the buffer size; hand over the rest as a bounded stream."""
        service = self.config.service
        cap = self.config.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await response.aclose()
            raise UpstreamBadResponse(
                # Not the declared number itself: the log and the caller get no upstream value.
                f"The upstream of {service} declared an answer over the cap of {cap} bytes."
            )
        if response.is_stream_consumed:
            # An in-memory answer (a mock transport read it already): nothing left to stream.
            body = response.content
            headers = forwardable_response_headers(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
            )
            self._check_json(response, body)
            return UpstreamResponse(
                status=response.status_code,
                headers=headers,
                body=body,
                declared_length=_declared(response),
            )
        raw = response.aiter_raw()
        chunks: list[bytes] = []
        size = 0
        complete = False
        try:
            while size <= self.config.buffer_bytes:
                try:
                    chunk = await anext(raw)
                except StopAsyncIteration:
                    complete = True
                    break
                chunks.append(chunk)
                size += len(chunk)
        except _TRANSPORT_ERRORS as exc:
            await response.aclose()
            raise map_transport_error(exc, service=service, timeout=timeout) from exc
        if size > cap:
            await response.aclose()
            raise UpstreamBadResponse(f"The upstream of {service} answered more than {cap} bytes.")
        body = b"".join(chunks)
        headers = forwardable_response_headers(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.headers.raw
        )
        if complete:
            await response.aclose()
            self._check_json(response, body)
            return UpstreamResponse(
                status=response.status_code,
                headers=headers,
                body=body,
                declared_length=_declared(response),
            )

        async def rest() -> AsyncIterator[bytes]:
            total = size
            try:
                while True:
                    try:
                        async with asyncio.timeout(timeout):
                            chunk = await anext(raw)
                    except StopAsyncIteration:
                        return
                    total += len(chunk)
                    if total > cap:
                        raise UpstreamBadResponse(
                            f"The upstream of {service} answered more than {cap} bytes."
                        )
                    yield chunk
            except TimeoutError:
                raise UpstreamTimeout(
                    f"The upstream of {service} stalled for {timeout:g} s mid-answer."
                ) from None
            except _TRANSPORT_ERRORS as exc:
                raise map_transport_error(exc, service=service, timeout=timeout) from exc

        return UpstreamResponse(
            status=response.status_code,
            headers=headers,
            body=body,
            declared_length=_declared(response),
            complete=False,
            rest=rest,
            aclose=response.aclose,
        )

    def _check_json(self, response: httpx.Response, body: bytes) -> None:
        if not body or "content-encoding" in response.headers:
            return
        if not _is_json(response.headers.get("content-type", "")):
            return
        try:
            json.loads(body)
        except ValueError:
            raise UpstreamBadResponse(
                f"The upstream of {self.config.service} declared JSON but sent a body that is not"
                " JSON."
            ) from None


def create(config: ConnectorConfig) -> MunicipalConnector:
    """Entry point ``xyb.connectors: municipal``."""
    return MunicipalConnector(config)
