"""Drift: a city system that no longer does what its OpenAPI document (and its contract) says.

``create_city_app(division, drift=frozenset({...}))`` swaps the endpoints a drift name changes for
drifted ones when the app is built; the OpenAPI document it serves stays the contract's. Apps
without drift keep the plain endpoints, so the normal paths pay nothing for this. Used by the
tests of contract verification, which must notice each kind of drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.simulators.city.api import city_error, get_fund_account, list_fund_deposits

Endpoint = Callable[[Request], Any]

# Each drift name and what it does.
DRIFTS: Mapping[str, str] = {
    "fund-balance-as-string": (
        'GET /gjj/accounts/{id_number}: the balance is a string ("84521.10"), not a number'
    ),
    "no-deposits-operation": (
        "GET /gjj/accounts/{id_number}/deposits: 404 in the city's error format, as if the "
        "operation had been removed"
    ),
}


def checked_drift(drift: Iterable[str]) -> frozenset[str]:
    """``drift`` as a frozenset; ``ValueError`` naming the known drifts for an unknown name."""
    names = frozenset(drift)
    unknown = sorted(names - DRIFTS.keys())
    if unknown:
        raise ValueError(
            f"unknown drift {', '.join(unknown)}; known drifts: {', '.join(sorted(DRIFTS))}"
        )
    return names


async def _fund_account_balance_as_string(request: Request) -> Response:
    response = await get_fund_account(request)
    body = json.loads(bytes(response.body))
    body["balance"] = f"{body['balance']:.2f}"
    return JSONResponse(body)


async def _operation_removed(request: Request) -> Response:
    return city_error(404)


# (the endpoint a drift replaces, its replacement)
_REPLACEMENTS: Mapping[str, tuple[Endpoint, Endpoint]] = {
    "fund-balance-as-string": (get_fund_account, _fund_account_balance_as_string),
    "no-deposits-operation": (list_fund_deposits, _operation_removed),
}


def drifted_endpoint(endpoint: Endpoint, drift: frozenset[str]) -> Endpoint:
    """The endpoint to serve in place of ``endpoint`` under ``drift`` (itself when unchanged)."""
    for name in drift:
        original, replacement = _REPLACEMENTS[name]
        if endpoint is original:
            return replacement
    return endpoint
