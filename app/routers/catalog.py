"""The public catalog of service items: search, and one item with how to call it (no auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app.core.cursors import BadCursor
from app.core.deps import SessionDep
from app.core.divisions import division as known_division
from app.core.divisions import divisions
from app.core.errors import BadRequest, NotFound, ValidationFailed
from app.core.openapi import PARAMETERS_KEY, problem_responses
from app.identity.crypto import DataCipher
from app.models.catalog import Item
from app.schemas.catalog import (
    CODE_PATTERN,
    LINE_PATTERN,
    ItemDetail,
    ItemPage,
    ItemSummary,
    ItemType,
    ServiceObject,
)
from app.services.catalog.search import (
    Q_MAX_LENGTH,
    SearchCursors,
    SearchQuery,
    search,
    text_query,
)
from app.services.catalog.store import bound_operations, division_name, get_item, item_out

router = APIRouter(prefix="/catalog", tags=["catalog"])

CURSOR_PURPOSE = "catalog-cursor"


def cursor_codec(request: Request) -> SearchCursors:
    """Cursors signed with a key derived from the data key (valid on every instance)."""
    cipher: DataCipher = request.app.state.identity.cipher
    return SearchCursors(lambda payload: cipher.lookup_hash(payload, purpose=CURSOR_PURPOSE))


def summary_of(item: Item) -> ItemSummary:
    """One search result."""
    return ItemSummary(
        code=item.code,
        name=item.name,
        type=item.type,
        service_object=item.service_object,
        division=item.division,
        division_name=division_name(item.division),
        department=item.department,
        time_limit_days=item.time_limit_days,
        online=item.online,
        one_network=item.one_network,
        cross_province=item.cross_province,
    )


@router.get(
    "/items",
    response_model=ItemPage,
    responses=problem_responses(400, 422),
    # The divisions the gateway knows, so clients (and fuzzers) see which codes are valid.
    openapi_extra={
        PARAMETERS_KEY: {"division": {"schema": {"type": "string", "enum": sorted(divisions())}}}
    },
)
async def list_items(
    session: SessionDep,
    request: Request,
    q: Annotated[
        str | None,
        Query(
            max_length=Q_MAX_LENGTH,
            pattern=LINE_PATTERN,
            description="text in the name, department or type (社保, 公积金, 驾驶证 …), at most"
            f" {Q_MAX_LENGTH} characters; common abbreviations are expanded by the synonym list."
            " Empty or only spaces (`q=`, `q=%20`) is the same as no `q`: no text filter",
        ),
    ] = None,
    division: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="owner division (exact), e.g. 430100")
    ] = None,
    type: Annotated[ItemType | None, Query(description="事项类型")] = None,
    service_object: Annotated[ServiceObject | None, Query()] = None,
    online: Annotated[bool | None, Query()] = None,
    one_network: Annotated[bool | None, Query(description="一网通办")] = None,
    cross_province: Annotated[bool | None, Query(description="跨省通办")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[A-Za-z0-9_.-]+$",
            description="next_cursor of the previous page (same query parameters)",
        ),
    ] = None,
) -> ItemPage:
    """Search items: exact name matches first, then shorter names, then by code."""
    if division is not None and known_division(division) is None:
        raise ValidationFailed(
            "1 part of the request did not validate.",
            errors=[{"pointer": "/query/division", "detail": f"unknown division {division}"}],
        )
    query = SearchQuery(
        q=text_query(q),
        division=division,
        type=type,
        service_object=service_object,
        online=online,
        one_network=one_network,
        cross_province=cross_province,
    )
    codec = cursor_codec(request)
    fingerprint = query.fingerprint()
    after = None
    if cursor is not None:
        try:
            after = codec.decode(cursor, fingerprint)
        except BadCursor as exc:
            raise BadRequest(
                f"The cursor is not valid: {exc}.", extensions={"parameter": "cursor"}
            ) from None
    page = await search(session, query, limit=limit, after=after)
    return ItemPage(
        items=[summary_of(item) for item in page.items],
        limit=limit,
        next_cursor=codec.encode(page.next_key, fingerprint) if page.next_key else None,
    )


@router.get("/items/{code}", response_model=ItemDetail, responses=problem_responses(404, 422))
async def get_catalog_item(
    code: Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)], session: SessionDep
) -> ItemDetail:
    """One item: its elements, whether it is reachable, and its operations through the gateway."""
    item = await get_item(session, code)
    if item is None:
        raise NotFound(f"There is no service item with code {code}.")
    operations = await bound_operations(session, code)
    return ItemDetail(
        **item_out(item).model_dump(),
        reachable=item.online and bool(operations),
        operations=operations,
    )
