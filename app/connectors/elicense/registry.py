"""The registry's own protocol: every operation a POST of a JSON object, every answer the envelope
``{"resultCode", "resultMsg", "data"}`` (app/simulators/elicense speaks it; its contract is
contracts/elicense/registry.contract.yaml).

Transport failures become the connector error tree (app.connectors.base) in one place, like the
municipal connector's; an answer that is not the envelope is a bad upstream answer. The
registry's refusals (1xxx, 2xxx) come back as :class:`RegistryAnswer` for the caller to map.
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

TYPES = "/api/v2/zzlx/query"
HOLDER = "/api/v2/zz/query"
DETAIL = "/api/v2/zz/detail"
ISSUE = "/api/v2/zz/issue"
REVOKE = "/api/v2/zz/revoke"

SUCCESS = "0000"
BAD_PARAMETER = "1001"
UNKNOWN_TYPE = "1002"
NO_SUCH_LICENSE = "2001"
ALREADY_EXISTS = "2002"
STATUS_FORBIDS = "2003"


@dataclass(frozen=True, slots=True)
class RegistryAnswer:
    """One envelope: the HTTP status, the result code and message, and the data."""

    status: int
    code: str
    message: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == SUCCESS


class RegistryClient:
    """POSTs envelopes to the registry over the connector's transport (one pool)."""

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
    ) -> RegistryAnswer:
        service = self.config.service
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = httpx.Request(
            "POST",
            self._base + path,
            headers=[
                *headers,
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("accept-encoding", "identity"),
            ],
            content=content,
        )
        try:
            async with asyncio.timeout(timeout):
                response = await self.config.transport.handle_async_request(request)
                try:
                    raw = await read_capped(
                        response,
                        self.config.max_response_bytes,
                        f"The e-license registry of {self.config.service}",
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            raise UpstreamTimeout(
                f"The e-license registry of {service} did not answer within {timeout:g} s."
            ) from None
        except _TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, service=service, timeout=timeout) from exc
        try:
            envelope = json.loads(raw)
        except ValueError:
            envelope = None
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("resultCode"), str)
            or "data" not in envelope
        ):
            raise UpstreamBadResponse(
                f"The e-license registry of {service} answered HTTP {response.status_code}"
                " without its envelope (resultCode, resultMsg, data)."
            )
        message = envelope.get("resultMsg")
        return RegistryAnswer(
            response.status_code,
            envelope["resultCode"][:8],
            message[:500] if isinstance(message, str) else "",
            envelope["data"],
        )
