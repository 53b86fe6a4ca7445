"""Transport exceptions mapped to the connector error tree, in one place.

The production transport is aiohttp under httpx (``httpx-aiohttp``), whose own mapping is lossy
(a refused connection arrives as ``httpx.ConnectTimeout``); so the original aiohttp exception,
kept as ``__cause__``, is consulted first.
"""

from __future__ import annotations

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError

from app.connectors.addresses import AddressRefused
from app.connectors.base import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# httpx's classes, which wrap the transport's own exception (lossily under httpx-aiohttp): a log
# line names the original when there is one (describe_exception(..., wrappers=HTTPX_WRAPPERS)).
HTTPX_WRAPPERS: tuple[type[BaseException], ...] = (httpx.HTTPError,)


def _chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 8:
        chain.append(chain[-1].__cause__)
    return chain


_REFUSED = (aiohttp.ClientConnectorError, ConnectionRefusedError, httpx.ConnectError)
_TIMEOUTS = (
    aiohttp.ServerTimeoutError,
    aiohttp.SocketTimeoutError,
    httpx.TimeoutException,
    TimeoutError,
)
_INVALID = (
    aiohttp.ClientPayloadError,
    aiohttp.ClientResponseError,
    HttpProcessingError,
    aiohttp.ClientOSError,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.DecodingError,
    ConnectionResetError,
    BrokenPipeError,
)


def map_transport_error(exc: BaseException, *, service: str, timeout: float) -> ConnectorError:
    """The connector error for a transport exception raised while calling ``service``."""
    chain = _chain(exc)
    # httpx-aiohttp translates lossily (a refusal or a reset arrives as ConnectTimeout): judge
    # by the original exceptions first, and by httpx's classes only when nothing else is known.
    originals = [e for e in chain if not isinstance(e, HTTPX_WRAPPERS)]
    for candidates in (originals, chain):
        error = _classify(candidates, service, timeout)
        if error is not None:
            return error
    return UpstreamUnavailable(f"Calling the upstream of {service} failed.")


def _classify(chain: list[BaseException], service: str, timeout: float) -> ConnectorError | None:
    def caused_by(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    # Sentences for callers name what happened, never internal addresses or library messages;
    # the original exception stays attached (__cause__) for the gateway's log.
    if caused_by(AddressRefused) is not None:
        return _unavailable(service, "its address is not one the gateway may call")
    if (refused := caused_by(*_REFUSED)) is not None:
        return _unavailable(service, _why_unreachable(refused))
    if caused_by(aiohttp.ServerDisconnectedError) is not None:
        return UpstreamBadResponse(
            f"The upstream of {service} closed the connection without an answer."
        )
    if caused_by(*_TIMEOUTS) is not None:
        return _timeout(service, timeout)
    if caused_by(ConnectionResetError, BrokenPipeError, aiohttp.ClientOSError) is not None:
        return UpstreamBadResponse(f"The upstream of {service} reset the connection.")
    if caused_by(*_INVALID) is not None:
        return UpstreamBadResponse(
            f"The upstream of {service} sent an answer that is not valid HTTP."
        )
    if (os_error := caused_by(OSError)) is not None:
        return _unavailable(service, _why_unreachable(os_error))
    return None


def _why_unreachable(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or ("name" in text and "resol" in text):
        return "its host name does not resolve"
    if "refused" in text:
        return "connection refused"
    if "unreachable" in text or "no route" in text:
        return "no route to it"
    return "connection failed"


def _unavailable(service: str, why: str) -> UpstreamUnavailable:
    error = UpstreamUnavailable(f"The upstream of {service} cannot be reached ({why}).")
    error.not_sent = True
    return error


def _timeout(service: str, timeout: float) -> UpstreamTimeout:
    return UpstreamTimeout(f"The upstream of {service} did not answer within {timeout:g} s.")
