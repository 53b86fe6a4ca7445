"""Loop detection on every route: a request whose ``Via`` names this gateway is refused (508).

The connector adds ``Via: 1.1 {XYB_GATEWAY_ID}`` to everything it sends upstream. A service whose
upstream URL points back at the gateway would otherwise have the gateway call itself with its own
identity: ``/gw`` round and round, and also the gateway's own API (a token issued, the catalog
read) on behalf of whoever called the service. So the check runs on every route, not only on
``/gw``: the proxy makes it first thing on ``/gw`` (so a looped call is still one access event,
counted as the gateway's fault), and :class:`LoopGuard`, inside the ``/gw`` shortcut, before every
other route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.connectors.headers import has_visited
from app.core.context import request_id_of
from app.core.errors import GatewayError, problem_response, register_problem_type

LOOP_DETECTED = register_problem_type(
    "loop-detected",
    508,
    "Loop detected",
    "The request came back through this gateway (its Via header names it): a service's upstream"
    " URL points at the gateway itself.",
)

LOOP_SENTENCE = (
    "This request has already passed through this gateway: a service's upstream URL points back"
    " at the gateway."
)


class LoopDetected(GatewayError):
    problem = LOOP_DETECTED


def looped(scope: Scope, gateway_id: str) -> bool:
    """Whether the request's ``Via`` names this gateway."""
    via = [v.decode("latin-1") for k, v in scope["headers"] if k == b"via"]
    return bool(via) and has_visited(via, gateway_id)


class LoopGuard:
    """Answers 508 to any HTTP request that has already passed through this gateway."""

    def __init__(self, app: ASGIApp, gateway_id: str) -> None:
        self.app = app
        self.gateway_id = gateway_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and looped(scope, self.gateway_id):
            response = problem_response(LOOP_DETECTED, LOOP_SENTENCE, instance=request_id_of(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
