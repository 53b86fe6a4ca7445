"""A client for upstreams whose every operation is a POST of a JSON object answered by an
envelope: a result code, a message and the data (the e-license registry's ``{"resultCode",
"resultMsg", "data"}``, the 12345 system's ``{"code", "msg", "data"}``).

Transport failures become the connector error tree (app.connectors.base) in one place; an answer
that is not the envelope is a bad upstream answer. Refusals (any code but success) come back as
:class:`EnvelopeAnswer` for the connector to map into its canonical API's words.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError

from app.connectors.answers import read_capped
from app.connectors.base import ConnectorConfig, UpstreamBadResponse, UpstreamTimeout
from app.connectors.errors import map_transport_error

_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError, HttpProcessingError, OSError)


@dataclass(frozen=True, slots=True)
class EnvelopeAnswer:
    """One envelope: the HTTP status, the result code and message, and the data."""

    status: int
    code: str
    message: str
    data: Any
    success: str  # the upstream's code for success

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == self.success


@dataclass(frozen=True, slots=True)
class Envelope:
    """How one upstream names its envelope's fields, and what it is called in messages."""

    who: str  # "The e-license registry"
    code: str
    message: str
    success: str


class EnvelopeClient:
    """POSTs JSON objects to one upstream over the connector's transport (one pool)."""

    def __init__(self, config: ConnectorConfig, envelope: Envelope) -> None:
        self.config = config
        self.envelope = envelope
        self._base = config.base_url.rstrip("/")

    async def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        headers: Sequence[tuple[str, str]],
        timeout: float,  # noqa: ASYNC109 - the request's deadline, shared with the caller's work
    ) -> EnvelopeAnswer:
        service, shape = self.config.service, self.envelope
        who = f"{shape.who} of {service}"
        request = httpx.Request(
            "POST",
            self._base + path,
            headers=[
                *headers,
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("accept-encoding", "identity"),
            ],
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        )
        try:
            async with asyncio.timeout(timeout):
                response = await self.config.transport.handle_async_request(request)
                try:
                    raw = await read_capped(response, self.config.max_response_bytes, who)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise UpstreamTimeout(f"{who} did not answer within {timeout:g} s.") from None
        except _TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, service=service, timeout=timeout) from exc
        try:
            envelope = json.loads(raw)
        except ValueError:
            envelope = None
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get(shape.code), str)
            or "data" not in envelope
        ):
            raise UpstreamBadResponse(
                f"{who} answered HTTP {response.status_code} without its envelope"
                f" ({shape.code}, {shape.message}, data)."
            )
        message = envelope.get(shape.message)
        return EnvelopeAnswer(
            response.status_code,
            envelope[shape.code][:8],
            message[:500] if isinstance(message, str) else "",
            envelope["data"],
            shape.success,
        )
