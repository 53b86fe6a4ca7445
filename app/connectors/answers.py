"""Answers a connector makes itself (the e-license and alliance connectors answer their canonical
APIs): JSON bodies and problem+json refusals shaped like the gateway's own, which the gateway
passes through like any upstream's answer, so they are counted and audited with the call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel

from app.connectors.base import UpstreamBadResponse, UpstreamResponse
from app.core.errors import PROBLEM_MEDIA_TYPE, ProblemType, problem_body


class Refusal(Exception):
    """A connector's own answer to a request it refuses: a problem with a detail and extensions."""

    def __init__(
        self, problem: ProblemType, detail: str, extensions: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.extensions = dict(extensions or {})


def json_answer(
    status: int, body: object, *, media_type: str = "application/json"
) -> UpstreamResponse:
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return UpstreamResponse(
        status=status,
        headers=[("content-type", media_type), ("cache-control", "no-store")],
        body=content,
        declared_length=len(content),
    )


def model_answer(status: int, model: BaseModel) -> UpstreamResponse:
    """``model`` as a JSON answer, serialised once by pydantic."""
    content = model.model_dump_json().encode("utf-8")
    return UpstreamResponse(
        status=status,
        headers=[("content-type", "application/json"), ("cache-control", "no-store")],
        body=content,
        declared_length=len(content),
    )


def problem_answer(refusal: Refusal, instance: str | None = None) -> UpstreamResponse:
    """The refusal as the gateway's own problems look: ``instance`` is the request id."""
    problem = refusal.problem
    extensions = dict(refusal.extensions)
    if problem.status == 422 and "errors" not in extensions:
        # Every 422 of the gateway lists its faults with pointers; so do the connector's.
        extensions["errors"] = [{"pointer": "", "detail": refusal.detail}]
    body = problem_body(problem, refusal.detail, instance or None, extensions)
    return json_answer(problem.status, body, media_type=PROBLEM_MEDIA_TYPE)


async def read_capped(response: httpx.Response, cap: int, who: str) -> bytes:
    """An upstream's whole answer, refused once it passes ``cap`` bytes (nothing past it is
    read): for connectors that read answers whole to translate them."""
    if response.is_stream_consumed:  # an in-memory answer (tests' mock transports)
        chunks = [response.content]
    else:
        chunks, size = [], 0
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                break
    body = b"".join(chunks)
    if len(body) > cap:
        raise UpstreamBadResponse(f"{who} answered more than {cap} bytes.")
    return body
