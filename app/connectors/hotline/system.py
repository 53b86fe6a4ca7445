"""The 12345 system's own protocol: every operation a POST of a JSON object, every answer the
envelope ``{"code", "msg", "data"}`` (app/simulators/hotline speaks it; its contract is
contracts/hotline/hotline.contract.yaml).

Transport failures become the connector error tree (app.connectors.base) in one place; an answer
that is not the envelope is a bad upstream answer. The system's refusals (1xxx, 2xxx) come back
as :class:`SystemAnswer` for the connector to map.
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

CREATE = "/api/12345/gd/create"
QUERY = "/api/12345/gd/query"
EVALUATE = "/api/12345/gd/evaluate"

SUCCESS = "0000"
BAD_PARAMETER = "1001"
NO_SUCH_TICKET = "2001"
REFERENCE_REUSED = "2002"
STATUS_FORBIDS = "2003"


@dataclass(frozen=True, slots=True)
class SystemAnswer:
    """One envelope: the HTTP status, the result code and message, and the data."""

    status: int
    code: str
    message: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == SUCCESS


class HotlineSystem:
    """POSTs envelopes to the 12345 system over the connector's transport (one pool)."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")

    async def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        headers: Sequence[tuple[str, str]],
        timeout: float,  # noqa: ASYNC109 - the request's deadline, shared with the caller's work
    ) -> SystemAnswer:
        service = self.config.service
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
                    raw = await read_capped(
                        response,
                        self.config.max_response_bytes,
                        f"The 12345 system of {service}",
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            raise UpstreamTimeout(
                f"The 12345 system of {service} did not answer within {timeout:g} s."
            ) from None
        except _TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, service=service, timeout=timeout) from exc
        try:
            envelope = json.loads(raw)
        except ValueError:
            envelope = None
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("code"), str)
            or "data" not in envelope
        ):
            raise UpstreamBadResponse(
                f"The 12345 system of {service} answered HTTP {response.status_code} without"
                " its envelope (code, msg, data)."
            )
        message = envelope.get("msg")
        return SystemAnswer(
            response.status_code,
            envelope["code"][:8],
            message[:500] if isinstance(message, str) else "",
            envelope["data"],
        )
