"""``GET /gw/openapi.json``: everything onboarded, as one document an app developer can read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.core.deps import SettingsDep
from app.gateway.openapi_doc import add_gateway_responses
from app.gateway.routetable import RouteTableManager
from app.services.openapi import MergeInput, merge_documents

router = APIRouter(tags=["gateway"])


@router.get(
    "/gw/openapi.json",
    responses={200: {"description": "OpenAPI 3.1 document of every route through /gw"}},
)
async def gateway_openapi(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """One merged OpenAPI document of every onboarded operation, as reachable through /gw."""
    manager: RouteTableManager = request.app.state.routes
    table = manager.table
    # The configured address, never the request's Host (which the caller chooses).
    server = settings.resolved_public_url
    # Built once per route-table generation and server address, then served from memory.
    key = (id(table), table.seq, server)
    cache: dict[tuple[int, int, str], dict[str, Any]] = request.app.state.gateway_openapi
    cached = cache.get(key)
    if cached is None:
        entries = sorted(table.services.values(), key=lambda e: (e.division, e.slug))
        cached = add_gateway_responses(
            merge_documents(
                [
                    MergeInput(
                        division=e.division,
                        slug=e.slug,
                        name=e.name,
                        document=e.document,
                        operations=list(e.specs().values()),
                    )
                    for e in entries
                ],
                title="xyb-gateway: services reachable through /gw",
                server_url=server,
            )
        )
        cache.clear()  # one table generation at a time
        cache[key] = cached
    return cached
