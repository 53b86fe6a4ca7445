"""The plumbing of the partner simulators' ``/_sim/*`` routes (粤省事, 随申办, 赣服通): reading a
control body, reading a provider state's parameters, dispatching ``POST /_sim/provider-state``
to the named state, and ``POST /_sim/reset``.

The states themselves, their parameter names and the shape of a refusal are each partner's own
(``<partner>/provider_states.py``); the control bodies are JSON for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.identifiers import normalise_resident_id, validate_resident_id

Params = dict[str, Any]
Endpoint = Callable[[Request], Awaitable[Response]]
# A partner's 400 for a control request: refused(message, **extra members such as known_states).
Refusal = Callable[..., Response]


class Resettable(Protocol):
    def reset(self) -> None: ...


S = TypeVar("S")
R = TypeVar("R", bound=Resettable)


class StateRefused(Exception):
    """A provider state's parameters cannot be made true: 400 with the reason."""


def text_param(params: Params, name: str) -> str | None:
    """``params[name]``, stripped (None when absent); StateRefused unless a non-empty string."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise StateRefused(f"params.{name}应为非空字符串")
    return value.strip()


def id_number_param(params: Params, name: str) -> str | None:
    """``params[name]`` as a normalised resident ID number (None when absent)."""
    value = text_param(params, name)
    if value is None:
        return None
    if validate_resident_id(value):
        raise StateRefused(f"params.{name}不是有效的居民身份证号码")
    return normalise_resident_id(value)


async def json_object(request: Request, *, empty_ok: bool = False) -> Params | None:
    """The control body as a JSON object; None when it is not one (``{}`` for an empty body
    when ``empty_ok``)."""
    raw = await request.body()
    if empty_ok and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def provider_state_endpoint(
    handlers: Mapping[str, Callable[[S, Params], Params]],
    state_of: Callable[[Request], S],
    read: Callable[[Request], Awaitable[Params | None]],
    refused: Refusal,
) -> Endpoint:
    """``POST /_sim/provider-state`` ``{"state": ..., "params": {...}}``: make the named state
    true and answer the parameters it used; ``refused`` (400) for a body that is not a JSON
    object, an unknown name (listing ``known_states``) or parameters the state refuses."""

    async def set_provider_state(request: Request) -> Response:
        body = await read(request)
        if body is None:
            return refused("请求体应为JSON对象")
        params = body.get("params") or {}
        name = body.get("state")
        handler = handlers.get(name) if isinstance(name, str) else None
        if handler is None or not isinstance(params, dict):
            return refused(f"未知的提供方状态：{name}", known_states=list(handlers))
        try:
            used = handler(state_of(request), params)
        except StateRefused as exc:
            return refused(str(exc))
        return JSONResponse({"state": name, "params": used})

    return set_provider_state


def reset_endpoint(state_of: Callable[[Request], R]) -> Endpoint:
    """``POST /_sim/reset``: the state back to its seed (204)."""

    async def reset(request: Request) -> Response:
        state_of(request).reset()
        return Response(status_code=204)

    return reset


class Signing(Protocol):
    seed: int


def sign_in_endpoint(partner_code: str, state_of: Callable[[Request], Signing]) -> Endpoint:
    """``POST /_sim/sign-in`` ``{"idNumber": ..., "audience": ...}``: what the partner app does when
    its signed-in resident opens a 湘易办 service: an ID token for them, signed with the partner's
    key, for the gateway ``audience`` (its issuer), to exchange at the gateway's token endpoint
    (inbound single sign-on). 400 for a body without a valid ID number or an audience."""
    from app.simulators.alliance.common import alliance_residents, id_token_for

    async def sign_in(request: Request) -> Response:
        body = await json_object(request)
        if body is None:
            return JSONResponse({"error": "请求体应为JSON对象"}, status_code=400)
        try:
            id_number = id_number_param(body, "idNumber")
            audience = text_param(body, "audience")
            name = text_param(body, "name")
        except StateRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if id_number is None or audience is None:
            return JSONResponse({"error": "需要idNumber和audience"}, status_code=400)
        if name is None:  # the name the partner knows its resident by, when it knows them
            known = (r for r in alliance_residents(partner_code) if r.id_number == id_number)
            name = next((r.name for r in known), "")
        token = id_token_for(partner_code, id_number, name, audience, seed=state_of(request).seed)
        return JSONResponse({"id_token": token, "token_type": "id_token"})

    return sign_in
