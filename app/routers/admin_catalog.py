"""The catalog's admin API: items one by one, bulk import and export, and the synonym list.

Items: the platform admin manages every item, a division admin those of its own division and of
the counties under it. Synonyms are one list for the whole province: the platform admin changes
it, division admins may read it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.deps import SessionDep
from app.core.divisions import divisions
from app.core.errors import Forbidden, MalformedBody, NotFound, ValidationFailed
from app.core.openapi import problem_responses
from app.gateway.request_checks import UnsupportedMediaType
from app.identity.callers import AdminDep, Caller, ServiceAdminDep
from app.identity.roles import Role
from app.routers.audited import audit_change
from app.schemas.catalog import (
    CODE_PATTERN,
    LINE_PATTERN,
    ImportResult,
    ItemFields,
    ItemIn,
    ItemOut,
    SynonymIn,
    SynonymOut,
)
from app.services.catalog.files import (
    FileFormat,
    ImportRejected,
    MalformedFile,
    RowError,
    write_items,
)
from app.services.catalog.normalise import fold
from app.services.catalog.store import (
    ImportCounts,
    OutOfReach,
    add_synonym,
    create_item,
    delete_synonyms,
    export_rows,
    get_item,
    import_file,
    item_out,
    list_synonyms,
    put_item,
)

router = APIRouter(
    prefix="/admin/catalog",
    tags=["admin: catalog"],
    responses=problem_responses(401, 403),
)

ItemCode = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64, description="the item's code")]

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The whole file: a JSON array of items, or CSV with a header row"
        " (materials joined with '；'). All or nothing: any bad row and nothing is saved.",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ItemIn"}}
            },
            "text/csv": {"schema": {"type": "string", "minLength": 1}},
        },
    }
}
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every item the caller manages, by code, in the columns an import reads",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ItemIn"}}
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
_MEDIA_TYPES: dict[str, FileFormat] = {"application/json": "json", "text/csv": "csv"}


def is_platform_admin(caller: Caller) -> bool:
    """The caller may manage every division."""
    return Role.PLATFORM_ADMIN.value in caller.roles


def reach(caller: Caller) -> frozenset[str] | None:
    """The divisions a division admin manages (its own and its counties); None: every one."""
    if is_platform_admin(caller):
        return None
    own = caller.division
    if own is None:
        return frozenset()
    return frozenset({own, *(d.code for d in divisions().values() if d.parent == own)})


def may_manage(caller: Caller, division: str) -> bool:
    """Whether the caller may change items of ``division``."""
    allowed = reach(caller)
    return allowed is None or division in allowed


def ensure_may_manage(caller: Caller, division: str) -> None:
    """403 unless the caller may change items of ``division``."""
    if not may_manage(caller, division):
        raise Forbidden(
            f"A division admin of {caller.division} cannot manage items of {division}.",
            extensions={"division": division, "own_division": caller.division},
        )


def _rejected(errors: list[RowError]) -> ValidationFailed:
    """The 422 listing every problem of a file."""
    count = len(errors)
    return ValidationFailed(
        f"The file has {count} problem{'s' if count != 1 else ''}; nothing was saved.",
        errors=[error.as_problem_entry() for error in errors],
    )


@router.post(
    "/items",
    response_model=ItemOut,
    status_code=201,
    responses=problem_responses(409, 413, 422),
)
async def create_catalog_item(
    body: ItemIn,
    caller: ServiceAdminDep,
    session: SessionDep,
    response: Response,
    request: Request,
) -> ItemOut:
    """Create an item (409 if its code exists: PUT replaces)."""
    ensure_may_manage(caller, body.division)
    item = await create_item(session, body)
    audit_change(
        request,
        session,
        caller,
        "catalog.create",
        f"item:{item.code}",
        {"code": item.code, "division": item.division},
        item.division,
    )
    response.headers["Location"] = f"/catalog/items/{item.code}"
    return item_out(item)


@router.put(
    "/items/{code}",
    response_model=ItemOut,
    responses={
        201: {"description": "Created", "model": ItemOut},
        **problem_responses(409, 413, 422),
    },
)
async def put_catalog_item(
    code: ItemCode,
    body: ItemFields,
    caller: ServiceAdminDep,
    session: SessionDep,
    response: Response,
    request: Request,
) -> ItemOut:
    """Create the item ``code`` (201) or replace all its elements (200)."""
    ensure_may_manage(caller, body.division)
    existing = await get_item(session, code)
    if existing is not None:
        ensure_may_manage(caller, existing.division)
    before = existing.division if existing is not None else None
    item, created = await put_item(session, code, body, existing)
    audit_change(
        request,
        session,
        caller,
        "catalog.create" if created else "catalog.replace",
        f"item:{item.code}",
        {"code": item.code, "division": item.division, "division_before": before},
        item.division,
    )
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/catalog/items/{item.code}"
    return item_out(item)


@router.get(
    "/export",
    responses={**_EXPORT_RESPONSES, **problem_responses(422)},
    description="Every item the caller manages (a division admin: its division and counties),"
    " by code, in exactly the columns an import reads, so an export imports back unchanged."
    " JSON: an array of items, one a line. CSV: a header row, then one record per item;"
    " materials joined with '；' (U+FF1B), booleans true/false.",
)
async def export_catalog(
    caller: ServiceAdminDep,
    session: SessionDep,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv")] = "json",
) -> Response:
    """Every item the caller manages, in the columns and format an import reads."""
    rows = await export_rows(session, reach(caller))
    media_type = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return Response(
        write_items(rows, format).encode("utf-8"),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="catalog.{format}"'},
    )


async def _import(
    session: AsyncSession, caller: Caller, data: bytes, fmt: FileFormat
) -> ImportCounts:
    """Import a file as ``caller``; its problems as problem+json errors."""
    reachable = reach(caller)
    allowed = None if reachable is None else reachable.__contains__
    try:
        return await import_file(session, data, fmt, may_manage=allowed)
    except MalformedFile as exc:
        raise MalformedBody(
            f"The body is {exc.errors[0].reason}.",
            extensions={"errors": [e.as_problem_entry() for e in exc.errors]},
        ) from None
    except ImportRejected as exc:
        raise _rejected(exc.errors) from None
    except OutOfReach as exc:
        raise Forbidden(
            f"{len(exc.errors)} row(s) are outside the divisions you manage; nothing was saved.",
            extensions={
                "own_division": caller.division,
                "errors": [e.as_problem_entry() for e in exc.errors],
            },
        ) from None


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=_IMPORT_BODY,
    responses=problem_responses(400, 409, 413, 415, 422),
    description="The body is the whole file, by Content-Type: application/json (an array of"
    " items) or text/csv (a header row naming every column once). New codes are created,"
    " existing ones replaced. All or nothing: if any row is bad nothing is saved and the 422"
    " lists every problem with its row (1-based data row: the first item or the first record"
    " after the header is row 1; 0 is the file or the CSV header), column and reason, and for"
    " CSV the line the record starts on (the header is line 1). A code twice in the file is a"
    " problem. A division admin's rows of other divisions are refused with 403.",
)
async def import_catalog(
    request: Request, caller: ServiceAdminDep, session: SessionDep
) -> ImportResult:
    """Import a file of items (JSON array or CSV): all or nothing, every bad row listed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = _MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise UnsupportedMediaType(
            "Send the file as application/json (an array of items) or text/csv.",
            extensions={"accepted": sorted(_MEDIA_TYPES)},
        )
    counts = await _import(session, caller, await request.body(), fmt)
    audit_change(
        request,
        session,
        caller,
        "catalog.import",
        "catalog",
        {
            "format": fmt,
            "created": counts.created,
            "updated": counts.updated,
            "total": counts.total,
        },
        None if reach(caller) is None else caller.division,
    )
    return ImportResult(created=counts.created, updated=counts.updated, total=counts.total)


@router.get("/synonyms", response_model=list[SynonymOut])
async def get_synonyms(caller: ServiceAdminDep, session: SessionDep) -> list[SynonymOut]:
    """The synonym list: what people type (term) and what it also finds (expansion)."""
    return [
        SynonymOut(id=s.id, term=s.term, expansion=s.expansion)
        for s in await list_synonyms(session)
    ]


@router.post(
    "/synonyms",
    response_model=SynonymOut,
    status_code=201,
    responses=problem_responses(409, 413, 422),
)
async def post_synonym(
    body: SynonymIn, caller: AdminDep, session: SessionDep, request: Request
) -> SynonymOut:
    """Add a synonym: a search for ``term`` also finds items matching ``expansion``."""
    if not fold(body.term) or not fold(body.expansion):
        raise ValidationFailed(
            "1 part of the request did not validate.",
            errors=[{"pointer": "/body/term", "detail": "term and expansion must have text"}],
        )
    if fold(body.term) == fold(body.expansion):
        raise ValidationFailed(
            "1 part of the request did not validate.",
            errors=[{"pointer": "/body/expansion", "detail": "the expansion equals the term"}],
        )
    row = await add_synonym(session, body.term, body.expansion)
    audit_change(
        request,
        session,
        caller,
        "synonym.add",
        f"synonym:{row.id}",
        {"term": row.term, "expansion": row.expansion},
    )
    return SynonymOut(id=row.id, term=row.term, expansion=row.expansion)


@router.delete("/synonyms", status_code=204, responses=problem_responses(404, 422))
async def remove_synonyms(
    caller: AdminDep,
    session: SessionDep,
    request: Request,
    term: Annotated[str, Query(min_length=1, max_length=40, pattern=LINE_PATTERN)],
    expansion: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=80,
            pattern=LINE_PATTERN,
            description="default: every expansion of the term",
        ),
    ] = None,
) -> Response:
    """Delete ``term`` → ``expansion`` (or every expansion of ``term``)."""
    deleted = await delete_synonyms(session, term, expansion)
    if deleted == 0:
        which = f"{term} → {expansion}" if expansion is not None else f"for {term}"
        raise NotFound(f"There is no synonym {which}.")
    audit_change(
        request,
        session,
        caller,
        "synonym.delete",
        f"synonym-term:{term}",
        {"term": term, "expansion": expansion, "deleted": deleted},
    )
    return Response(status_code=204)
