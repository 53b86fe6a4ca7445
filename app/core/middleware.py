"""Edge middleware, pure ASGI (no per-request task or body copies beyond what each one needs).

Order, outermost first: :class:`RequestContextMiddleware` (request id, access log, last-resort
500) then :class:`BodyLimitMiddleware` (413 before anything reads the body), then the app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import (
    REQUEST_ID_HEADER,
    accept_or_mint,
    request_id_of,
    request_id_var,
    set_request_id,
)
from app.core.errors import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    PAYLOAD_TOO_LARGE,
    ProblemType,
    problem_response,
)

access_log = logging.getLogger("xyb.access")
error_log = logging.getLogger("xyb.error")

_REQUEST_ID_HEADER_B = REQUEST_ID_HEADER.encode("latin-1")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _route_template(scope: Scope) -> str | None:
    """The matched route's template; never the raw path of a route with parameters."""
    template = scope.get("xyb.route_template") or getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    if "endpoint" in scope and not scope.get("path_params"):
        # A plain Starlette route (/openapi.json, /docs): without parameters, path == template.
        path = scope.get("path")
        return path if isinstance(path, str) else None
    return None


class RequestContextMiddleware:
    """Request id in and out, one JSON access-log line per request, and a problem+json 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, _REQUEST_ID_HEADER_B)
        request_id = accept_or_mint(incoming.decode("latin-1") if incoming else None)
        set_request_id(scope, request_id)
        token = request_id_var.set(request_id)
        rid_header = (_REQUEST_ID_HEADER_B, request_id.encode("latin-1"))
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *(
                        h
                        for h in message.get("headers", ())
                        if h[0].lower() != _REQUEST_ID_HEADER_B
                    ),
                    rid_header,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "unhandled error",
                extra={"method": scope["method"], "route": _route_template(scope)},
            )
            if status == 0:
                response = problem_response(
                    INTERNAL_ERROR,
                    "The gateway failed while handling this request. Quote the instance to an"
                    " operator.",
                    instance=request_id,
                    # What the failed app wants every answer to carry (the proxy: the request
                    # digest).
                    headers=scope.get("xyb.error_headers"),
                )
                await response(scope, receive, send_with_id)
            else:
                status = 500
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": _route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over the route family's limit with 413, before any handler runs.

    A declared ``Content-Length`` over the limit is refused without reading. A body of unknown
    length (chunked) is read here, up to the limit, and replayed to the app, so at most the limit
    plus one chunk is ever held or read.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
                if length < 0:
                    raise ValueError
            except ValueError:
                await self._refuse(scope, receive, send, BAD_REQUEST, "Content-Length is invalid.")
                return
            if length > limit:
                await self._refuse_too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:
            # HTTP/1.1: no length and no transfer coding means no body.
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        total = 0
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # a disconnect: replay it, the app decides
                break
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                await self._refuse_too_large(scope, receive, send, limit)
                return
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                break
        replay: Message = first or {
            "type": "http.request",
            "body": b"".join(chunks),
            "more_body": False,
        }
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return replay
            return await receive()

        await self.app(scope, replay_receive, send)

    async def _refuse_too_large(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        await self._refuse(
            scope,
            receive,
            send,
            PAYLOAD_TOO_LARGE,
            f"The request body exceeds the limit of {limit} bytes for this route.",
            extensions={"limit_bytes": limit},
        )

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        problem: ProblemType,
        detail: str,
        extensions: dict[str, object] | None = None,
    ) -> None:
        response = problem_response(
            problem,
            detail,
            instance=request_id_of(scope),
            # The rest of the body is never read: the connection cannot be reused.
            headers={"Connection": "close"},
            extensions=extensions,
        )
        await response(scope, receive, send)
