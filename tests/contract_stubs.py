"""Upstream stubs built from contracts/: one source of truth for what providers answer.

``contract_stub("municipal/changsha")`` gives a respx router with one route per interaction
(method, path and the query it sends); it answers the interaction's example. A call that no
interaction describes gets 501 listing the interactions that exist, never a silent default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import respx

from app.contracts.matchers import example_of
from app.contracts.model import Contract, Interaction, load_contract

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def load(name: str) -> Contract:
    """``municipal/changsha`` → contracts/municipal/changsha.contract.yaml."""
    return load_contract(CONTRACTS / f"{name}.contract.yaml")


def _answer(interaction: Interaction) -> httpx.Response:
    expected = interaction.response
    headers: dict[str, str] = {}
    for name, matcher in expected.headers.items():
        value = example_of(matcher)
        if isinstance(value, str):
            headers[name] = value
    if expected.xml is not None:
        raise ValueError(f"{interaction.id}: XML answers are not stubbed yet; give a JSON example")
    if not expected.has_body:
        return httpx.Response(expected.status, headers=headers)
    headers.setdefault("Content-Type", "application/json")
    body = json.dumps(example_of(expected.body), ensure_ascii=False).encode("utf-8")
    return httpx.Response(expected.status, headers=headers, content=body)


def stub_router(contract: Contract, *, state: str | None = None) -> respx.MockRouter:
    """Routes for the contract's interactions (only those given ``state``, when named)."""
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=False)
    chosen = [
        i
        for i in contract.interactions
        if state is None or (i.given is not None and i.given.state == state)
    ]
    if not chosen:
        raise ValueError(f"{contract.name} has no interaction given {state!r}")
    for interaction in chosen:
        request = interaction.request
        pattern: dict[str, Any] = {"method": request.method or _method(contract, interaction)}
        pattern["path"] = request.path
        if request.query:
            pattern["params__contains"] = dict(request.query)
        router.route(name=interaction.id, **pattern).mock(return_value=_answer(interaction))
    listed = [
        f"{i.id}: {i.request.method or _method(contract, i)} {i.request.path}" for i in chosen
    ]

    def not_in_contract(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            501,
            json={
                "detail": f"{request.method} {request.url.path} is in no interaction of"
                f" {contract.name}",
                "interactions": listed,
            },
        )

    router.route(name="not-in-contract").mock(side_effect=not_in_contract)
    return router


def _method(contract: Contract, interaction: Interaction) -> str:
    method, _, _ = interaction.operation.partition(" ")
    if method.isupper() and method.isalpha():
        return method
    from app.contracts.static import resolve_operation
    from app.services.openapi import analyse, parse_document

    assert contract.openapi_path is not None
    analysis = analyse(parse_document(contract.openapi_path.read_bytes()), check_spec=False)
    spec = resolve_operation(analysis, interaction.operation)
    if spec is None:
        raise ValueError(f"{contract.name} {interaction.id}: no operation {interaction.operation}")
    return spec.method


def transport_for(router: respx.MockRouter) -> httpx.AsyncBaseTransport:
    return httpx.MockTransport(router.async_handler)
