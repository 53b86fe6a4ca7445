"""``ANY /gw/{division}/{slug}/{path}``: the proxy path, as a lean ASGI app.

No FastAPI routing or dependency injection here: this runs on every proxied call. The order is
the design's: authenticate → match the route (in memory) → refuse what an upstream could read
differently from what is checked (target, path segments, header bytes: app.gateway.incoming) →
read the whole body (a partial one is never forwarded) → validate the request against the
operation (compiled validator) → breaker and concurrency cap → connector call (deadline, safe
retries) → the upstream's answer passed through, marked with ``X-XYB-Upstream`` → one access
event. A request that looped back through the gateway never gets here (app.gateway.loop).

Every answer, the upstream's and the gateway's own problems, carries ``Xyb-Request-Digest``: the
SHA-256 of the request as received (app.services.audit.digests: method, raw path and query,
body), hashed as the body arrives. A call refused before its body is read (401, 403, 404, 405,
429, a refused target, header or purpose) has its digest over the empty body: the gateway never
saw the body, so it vouches for none; a body that broke off (400 ``incomplete-body``) counts
with the bytes that did arrive. The access event keeps that digest, the SHA-256 of the body
bytes sent back (hashed chunk by chunk as they go; of what was sent, when an answer is cut
short), the pairwise subject of the upstream assertion and, when the assertion carried the
resident's ID number, whose personal data the call read and why (app.gateway.purpose).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.connectors.base import (
    CallerFacts,
    ConnectorError,
    UpstreamRequest,
    UpstreamResponse,
)
from app.connectors.errors import HTTPX_WRAPPERS
from app.core.context import request_id_of
from app.core.divisions import division as known_division
from app.core.errors import (
    Fault,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    problem_response,
)
from app.core.logging import describe_exception
from app.events import AccessEvent, AccessEventSink, outcome_of
from app.gateway.guard import GatewayGuard
from app.gateway.incoming import check_headers, check_segments, check_target, read_body
from app.gateway.loop import LOOP_SENTENCE, LoopDetected, looped
from app.gateway.matcher import Match, MethodMismatch
from app.gateway.purpose import stated_purpose
from app.gateway.request_checks import RequestChecker
from app.gateway.routetable import RouteTable, ServiceEntry
from app.identity.callers import Caller
from app.services.audit.digests import HEADER as DIGEST_HEADER_NAME
from app.services.audit.digests import digest_header

log = logging.getLogger("xyb.gateway")

# Validations running in worker threads at once per process (the rest wait their turn, within
# XYB_VALIDATION_TIMEOUT): large requests cannot take every core from the small ones.
OFFLOADED_VALIDATIONS = 2
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
UPSTREAM_HEADER = b"x-xyb-upstream"
# The access event's id on an upstream's answer: what a resident rates the call by (好差评).
EVENT_HEADER = b"xyb-event-id"
DIGEST_HEADER = DIGEST_HEADER_NAME.lower().encode("ascii")
# Where the last-resort 500 (app.core.middleware) finds headers the answer must still carry.
ERROR_HEADERS_KEY = "xyb.error_headers"
_NO_BODY_STATUSES = frozenset({204, 304})


class _CutShort(RuntimeError):
    """The upstream's answer failed after its status was sent: the connection is cut."""


class _Call:
    """What is known about one call, for its access event."""

    __slots__ = (
        "answered",
        "client_id",
        "division",
        "event_id",
        "fault",
        "from_upstream",
        "item_code",
        "operation_id",
        "personal_data_of",
        "purpose",
        "read_kind",
        "request_digest",
        "response_digest",
        "service",
        "service_id",
        "status",
        "subject",
        "upstream_ms",
    )

    def __init__(self, division: str) -> None:
        self.division = division
        self.event_id = uuid.uuid4().hex
        self.client_id: str | None = None
        self.service: str | None = None
        self.service_id: int | None = None
        self.operation_id: str | None = None
        self.item_code: str | None = None
        self.status = 0
        self.from_upstream = False
        # Whose fault the call failed by, when the gateway answered with a problem or an
        # upstream's answer was cut short (app.events.outcome_of).
        self.fault: Fault | None = None
        self.upstream_ms: float | None = None
        # For the audit log (app.events.AccessEvent).
        self.answered = False  # the proxy sent the answer's status and headers
        self.subject: str | None = None
        self.request_digest: str | None = None
        self.response_digest: str | None = None
        self.personal_data_of: int | None = None
        self.purpose: str | None = None
        self.read_kind: str | None = None


class GatewayProxy:
    """The ASGI app mounted at ``/gw``."""

    def __init__(
        self,
        table: Callable[[], RouteTable],
        sink: AccessEventSink,
        *,
        gateway_id: str,
        guard: GatewayGuard,
        validation_timeout: float = 10.0,
    ) -> None:
        self._table = table
        self._sink = sink
        self._gateway_id = gateway_id
        self._guard = guard
        self._checker = RequestChecker(slots=OFFLOADED_VALIDATIONS, timeout=validation_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        # ['', 'gw', division, slug, rest...]: split before decoding, so %2F stays in its segment.
        target = raw_path.split(b"?", 1)[0]
        parts = target.decode("latin-1").split("/")
        division = unquote(parts[2]) if len(parts) > 2 else ""
        call = _Call(division)
        # The request digest (app.services.audit.digests.request_digest), fed as the body arrives
        # rather than over a joined copy. The target is the raw path and, when there is one, '?'
        # and the raw query: servers hand over the two apart (a lone '?' is not seen).
        query: bytes = scope.get("query_string", b"")
        raw_target = target + b"?" + query if query else target
        request_hash = hashlib.sha256(scope["method"].encode() + b" " + raw_target + b"\n")
        response_hash = hashlib.sha256()

        async def receive_hashed() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_hash.update(message.get("body", b""))
            return message

        async def send_hashed(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The body is read before any answer starts: the digest is final here.
                call.request_digest = request_hash.hexdigest()
                call.answered = True
                header = (DIGEST_HEADER, digest_header(call.request_digest).encode("ascii"))
                message["headers"] = [*message.get("headers", ()), header]
                await send(message)
                return
            await send(message)
            if message["type"] == "http.response.body":
                # After the send: only bytes that went out count (a cut-short answer's too).
                response_hash.update(message.get("body", b""))

        try:
            await self._handle(scope, receive_hashed, send_hashed, target, parts, call)
        except _CutShort:
            raise
        except GatewayError as exc:
            call.status = exc.problem.status
            call.from_upstream = False
            call.fault = exc.problem.fault
            response = problem_response(
                exc.problem,
                exc.detail,
                instance=request_id_of(scope),
                headers=exc.headers,
                extensions=exc.extensions,
            )
            await response(scope, receive_hashed, send_hashed)
        except Exception:
            call.status = 500
            call.fault = "gateway"
            if not call.answered:
                # The last-resort 500 is answered outside (app.core.middleware): it carries the
                # digest too, but its bytes are not seen here (the event has no response digest).
                call.request_digest = request_hash.hexdigest()
                scope[ERROR_HEADERS_KEY] = {DIGEST_HEADER_NAME: digest_header(call.request_digest)}
            raise
        finally:
            if call.answered:
                call.response_digest = response_hash.hexdigest()
            elif call.request_digest is None:  # cancelled: nothing was answered
                call.request_digest = request_hash.hexdigest()
            self._emit(scope, call, started)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: bytes,
        parts: list[str],
        call: _Call,
    ) -> None:
        method: str = scope["method"]
        if looped(scope, self._gateway_id):
            raise LoopDetected(LOOP_SENTENCE)
        caller = self._guard.authenticate(scope)
        call.client_id = caller.client_id
        entry = self._service(parts)
        call.service, call.service_id = entry.key, entry.id
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        check_target(target, scope.get("query_string", b""))
        check_segments(parts[4:])
        check_headers(raw_headers)
        purpose = stated_purpose(raw_headers)
        rest = "/" + "/".join(parts[4:])
        scope["xyb.route_template"] = f"/gw/{entry.division}/{entry.slug}"
        found = entry.matcher.match(method, rest)
        if found is None:
            # The path is not repeated: it may carry personal data (ID numbers are path parameters).
            raise NotFound(
                f"No operation of {entry.key} matches this {method} path; /gw/openapi.json lists"
                " its operations."
            )
        if isinstance(found, MethodMismatch):
            raise MethodNotAllowed(
                f"{entry.key} serves {found.path} with {', '.join(found.allowed)}, not {method}.",
                allow=found.allowed,
            )
        operation = found.target
        call.operation_id, call.item_code = operation.operation_id, operation.item_code
        scope["xyb.route_template"] = f"/gw/{entry.division}/{entry.slug}{operation.path}"
        self._guard.authorize(caller, entry, operation)
        rate_headers = await self._guard.limit(caller)

        body = await read_body(receive, raw_headers)
        # latin-1 keeps every byte: the connector sends the values' bytes unchanged.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
        query: str = scope.get("query_string", b"").decode("latin-1")
        # Small requests on the event loop, the rest in a worker thread (see RequestChecker).
        await self._checker.check(entry, operation, found, headers, query, body)

        upstream = await self._call_upstream(
            entry,
            scope,
            rest,
            query,
            headers,
            body,
            call,
            caller=caller,
            purpose=purpose,
        )
        await self._relay(entry, upstream, send, call, head=method == "HEAD", extra=rate_headers)

    def _service(self, parts: list[str]) -> ServiceEntry:
        if len(parts) < 4 or not parts[2] or not parts[3]:
            raise NotFound(
                "Gateway paths are /gw/{division}/{service}/{path}; GET /gw/openapi.json lists"
                " every onboarded operation."
            )
        division, slug = unquote(parts[2]), unquote(parts[3])
        table = self._table()
        entry = table.find(division, slug)
        if entry is not None:
            return entry
        known = known_division(division)
        if known is None:
            raise NotFound(f"{division!r} is not a known division code (GB/T 2260).")
        retired_at = table.retired.get((division, slug))
        if retired_at is not None:
            raise NotFound(
                f"The service {division}/{slug} ({known.name}) was retired on"
                f" {retired_at.date().isoformat()}."
            )
        raise NotFound(f"No service {slug!r} is onboarded in {division} ({known.name}).")

    async def _call_upstream(
        self,
        entry: ServiceEntry,
        scope: Scope,
        rest: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        call: _Call,
        *,
        caller: Caller,
        purpose: str | None,
    ) -> UpstreamResponse:
        method: str = scope["method"]
        asserted = self._guard.upstream_headers(caller, entry)
        call.subject = asserted.subject
        entry.breaker.before_call()
        try:
            entry.limit.acquire()
        except ConnectorError:
            entry.breaker.release_probe()
            raise
        if asserted.with_id_number:
            # The ID number leaves the gateway now: a read of the token's resident's personal
            # data, logged whatever the upstream answers (an open breaker or a full cap above
            # sent nothing, and read nothing).
            call.personal_data_of = caller.person_id
            call.purpose = purpose or f"service classification: {entry.data_classification}"
        started = time.perf_counter()
        try:
            upstream = await entry.connector.send(
                UpstreamRequest(
                    method=method,
                    path=rest,
                    query=query,
                    headers=headers,
                    body=body,
                    timeout=entry.timeout,
                    idempotent=method in IDEMPOTENT,
                    request_id=request_id_of(scope) or "",
                    division=entry.division,
                    client_id=caller.client_id,
                    extra_headers=asserted.headers,
                    caller=CallerFacts(
                        client_id=caller.client_id,
                        kind=caller.kind,
                        roles=caller.roles,
                        person_id=caller.person_id,
                        assurance=caller.assurance,
                        acting_for=caller.acting_for,
                        id_number=asserted.id_number,
                        purpose=purpose,
                        division=caller.division,
                    ),
                )
            )
        except ConnectorError as exc:
            entry.breaker.record_error(exc)  # Retry-After when this failure opened the breaker
            # The library's exceptions are named, never quoted: their text holds the upstream URL
            # (ID numbers in paths, phones in queries) and every request header (the service's
            # credential, the signed assertion).
            log.warning(
                "upstream call failed",
                extra={
                    "service": entry.key,
                    "error": exc.detail,
                    "cause": describe_exception(exc.__cause__, wrappers=HTTPX_WRAPPERS),
                },
            )
            raise
        except BaseException:
            entry.breaker.release_probe()
            raise
        finally:
            entry.limit.release()
            call.upstream_ms = (time.perf_counter() - started) * 1000
        if upstream.personal_read is not None:
            # The connector disclosed someone else's personal data (a license read under its
            # holder's consent): that read is the one the log keeps.
            read = upstream.personal_read
            call.personal_data_of, call.purpose, call.read_kind = (
                read.person_id,
                read.purpose,
                read.kind,
            )
        if upstream.status >= 500:
            entry.breaker.record_failure(f"answered {upstream.status}")
        else:
            entry.breaker.record_success()
        return upstream

    async def _relay(
        self,
        entry: ServiceEntry,
        upstream: UpstreamResponse,
        send: Send,
        call: _Call,
        *,
        head: bool,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        headers = [
            (k.encode("latin-1"), _rewrite_location(entry, k, v).encode("latin-1"))
            for k, v in upstream.headers
        ]
        headers.append((UPSTREAM_HEADER, entry.key.encode("ascii")))
        headers.append((EVENT_HEADER, call.event_id.encode("ascii")))
        headers.extend(extra)
        no_body = head or upstream.status in _NO_BODY_STATUSES or upstream.status < 200
        if head and upstream.declared_length is not None:
            # A HEAD answer describes the GET answer's length; it has no body to measure.
            headers.append((b"content-length", str(upstream.declared_length).encode("ascii")))
        elif upstream.complete and not no_body:
            headers.append((b"content-length", str(len(upstream.body)).encode("ascii")))
        call.status = upstream.status
        call.from_upstream = True
        await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
        if no_body:
            await upstream.aclose()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if upstream.complete:
            await send({"type": "http.response.body", "body": upstream.body, "more_body": False})
            return
        try:
            await send({"type": "http.response.body", "body": upstream.body, "more_body": True})
            async for chunk in upstream.rest():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ConnectorError as exc:
            # The status is already sent: all that is left is to cut the answer short (and to
            # count the call as the failure it is, whatever its status said).
            entry.breaker.record_failure(exc.detail)
            call.fault = exc.problem.fault
            log.warning(
                "upstream answer cut short",
                extra={
                    "service": entry.key,
                    "error": exc.detail,
                    "cause": describe_exception(exc.__cause__, wrappers=HTTPX_WRAPPERS),
                },
            )
            raise _CutShort(exc.detail) from exc
        finally:
            await upstream.aclose()

    def _emit(self, scope: Scope, call: _Call, started: float) -> None:
        status = call.status or 500
        try:
            self._sink.emit(
                AccessEvent(
                    event_id=call.event_id,
                    request_id=request_id_of(scope) or "",
                    at=datetime.now(UTC),
                    client_id=call.client_id,
                    division=call.division,
                    service_id=call.service_id,
                    service=call.service,
                    operation_id=call.operation_id,
                    item_code=call.item_code,
                    method=scope["method"],
                    status=status,
                    outcome=outcome_of(status, from_upstream=call.from_upstream, fault=call.fault),
                    from_upstream=call.from_upstream,
                    upstream_ms=call.upstream_ms,
                    total_ms=(time.perf_counter() - started) * 1000,
                    subject=call.subject,
                    request_digest=call.request_digest,
                    response_digest=call.response_digest,
                    personal_data_of=call.personal_data_of,
                    purpose=call.purpose,
                    read_kind=call.read_kind,
                )
            )
        except Exception:
            log.exception("access event sink failed")


def _rewrite_location(entry: ServiceEntry, name: str, value: str) -> str:
    """Point Location/Content-Location at the gateway when they point into the upstream."""
    if name not in ("location", "content-location"):
        return value
    gateway = f"/gw/{entry.division}/{entry.slug}"
    base = entry.upstream_url.rstrip("/")
    if value == base or value.startswith(base + "/"):
        return gateway + value[len(base) :]
    base_path = urlsplit(base).path.rstrip("/")
    if value.startswith("/") and not value.startswith("//"):
        if not base_path:
            return gateway + value
        if value == base_path or value.startswith(base_path + "/"):
            return gateway + value[len(base_path) :]
    return value


class GatewayShortcut:
    """Sends /gw/... straight to the proxy, past FastAPI's exception layers and route scan.

    Installed as the innermost middleware, so the request id, access log, body limit and the
    last-resort 500 still apply. ``/gw/openapi.json`` is an ordinary FastAPI route.
    """

    def __init__(self, app: ASGIApp, proxy: GatewayProxy, exempt: frozenset[str]) -> None:
        self.app = app
        self.proxy = proxy
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if (path == "/gw" or path.startswith("/gw/")) and path not in self.exempt:
                await self.proxy(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = ["GatewayProxy", "GatewayShortcut", "Match"]
