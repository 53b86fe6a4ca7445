"""Items and synonyms in the database: create, replace, import, export, detail."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.divisions import division as known_division
from app.core.errors import Conflict
from app.models.catalog import Item, Synonym
from app.models.service import Operation, Service, ServiceStatus, utcnow
from app.schemas.catalog import GatewayOperation, ItemFields, ItemIn, ItemOut
from app.services.catalog.files import COLUMNS, FileFormat, ImportRejected, RowError, parse_items
from app.services.catalog.normalise import fold, search_text_of

# Bound parameters per statement stay far below SQLite's and asyncpg's limits.
CHUNK = 500
# Bulk imports update rows without the ORM: reads take them afresh, not from the identity map.
FRESH = {"populate_existing": True}
T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def division_name(code: str) -> str:
    """The division's name, or its code when the gateway does not know it."""
    place = known_division(code)
    return place.name if place is not None else code


def item_values(fields: ItemFields, code: str) -> dict[str, Any]:
    """The columns of an item (its search text included) from its validated fields."""
    values = fields.model_dump(exclude={"code"})
    values["code"] = code
    values["search_text"] = search_text_of(fields.name, fields.department, fields.type)
    return values


def exported(item: Item) -> dict[str, Any]:
    """An item as the columns of an import/export file."""
    return {column: getattr(item, column) for column in COLUMNS}


def item_out(item: Item) -> ItemOut:
    """An item as the API shows it."""
    return ItemOut(
        **exported(item),
        division_name=division_name(item.division),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class ItemConflict(Conflict):
    """An item with this code exists (or was created concurrently)."""


async def create_item(session: AsyncSession, item: ItemIn) -> Item:
    """Create one item; Conflict if its code exists."""
    if await session.scalar(select(Item.id).where(Item.code == item.code)) is not None:
        raise ItemConflict(
            f"An item with code {item.code} exists; PUT /admin/catalog/items/{item.code} replaces"
            " it.",
            extensions={"code": item.code},
        )
    now = utcnow()
    row = Item(**item_values(item, item.code), created_at=now, updated_at=now)
    session.add(row)
    await _flush(session, [item.code])
    return row


async def get_item(session: AsyncSession, code: str) -> Item | None:
    """The item with this code, if any."""
    found: Item | None = await session.scalar(
        select(Item).where(Item.code == code), execution_options=FRESH
    )
    return found


async def put_item(
    session: AsyncSession, code: str, fields: ItemFields, existing: Item | None
) -> tuple[Item, bool]:
    """Create or replace the item ``code``; returns it and whether it was created."""
    now = utcnow()
    values = item_values(fields, code)
    if existing is None:
        row = Item(**values, created_at=now, updated_at=now)
        session.add(row)
        await _flush(session, [code])
        return row, True
    for key, value in values.items():
        setattr(existing, key, value)
    existing.updated_at = now
    await _flush(session, [code])
    return existing, False


async def _flush(session: AsyncSession, codes: Sequence[str]) -> None:
    """Flush; a code inserted meanwhile by someone else is a Conflict."""
    try:
        await session.flush()
    except IntegrityError:
        raise ItemConflict(
            "Another change created items with the same codes meanwhile; try again.",
            extensions={"codes": list(codes)[:20]},
        ) from None


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """How many items an import created and updated."""

    created: int
    updated: int

    @property
    def total(self) -> int:
        """Created and updated."""
        return self.created + self.updated


async def save_items(
    session: AsyncSession,
    items: Sequence[ItemIn],
    *,
    may_manage: Callable[[str], bool] | None = None,
) -> ImportCounts:
    """Insert new codes, replace existing ones (in bulk); OutOfReach beyond ``may_manage``."""
    # The caller's transaction decides; a division admin's refused rows are all listed: those of
    # another division, and those replacing an item of another division.
    codes = [item.code for item in items]
    ids: dict[str, int] = {}
    divisions: dict[str, str] = {}
    for chunk in chunks(codes):
        rows = await session.execute(
            select(Item.code, Item.id, Item.division).where(Item.code.in_(chunk))
        )
        for code, item_id, division in rows:
            ids[code], divisions[code] = item_id, division
    if may_manage is not None:
        refused: list[RowError] = []
        for row, item in enumerate(items, start=1):
            if not may_manage(item.division):
                reason = f"division {item.division} is out of your reach"
                refused.append(RowError(row, "division", reason))
            elif item.code in divisions and not may_manage(divisions[item.code]):
                reason = f"the existing item {item.code} belongs to {divisions[item.code]}"
                refused.append(RowError(row, "code", reason))
        if refused:
            raise OutOfReach(refused)
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item in items:
        values = item_values(item, item.code)
        if item.code in ids:
            updates.append({**values, "id": ids[item.code], "updated_at": now})
        else:
            inserts.append({**values, "created_at": now, "updated_at": now})
    try:
        for batch in chunks(inserts, 1000):
            await session.execute(insert(Item), list(batch))
        for batch in chunks(updates, 1000):
            await session.execute(update(Item), list(batch))
    except IntegrityError:
        raise ItemConflict(
            "Another change created items with the same codes meanwhile; import again."
        ) from None
    return ImportCounts(created=len(inserts), updated=len(updates))


class OutOfReach(Exception):
    """Rows a division admin may not change."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} row(s) out of reach")
        self.errors = list(errors)


async def import_file(
    session: AsyncSession,
    data: bytes,
    fmt: FileFormat,
    *,
    may_manage: Callable[[str], bool] | None = None,
) -> ImportCounts:
    """Check a whole file, then save it (ImportRejected if any row is bad, OutOfReach)."""
    items = parse_items(data, fmt)
    if not items:
        raise ImportRejected([RowError(0, "", "the file has no items")])
    return await save_items(session, items, may_manage=may_manage)


async def export_rows(
    session: AsyncSession, divisions: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Every item (or those of ``divisions``), by code, as file columns."""
    query = select(Item).order_by(Item.code)
    if divisions is not None:
        query = query.where(Item.division.in_(sorted(divisions)))
    return [exported(item) for item in await session.scalars(query, execution_options=FRESH)]


async def bound_operations(session: AsyncSession, code: str) -> list[GatewayOperation]:
    """The operations of active services bound to item ``code``, with their gateway paths."""
    rows = await session.execute(
        select(
            Operation.method,
            Operation.path,
            Operation.operation_id,
            Operation.summary,
            Service.name,
            Service.division,
            Service.slug,
        )
        .join(Service, Service.id == Operation.service_id)
        .where(Operation.item_code == code, Service.status == ServiceStatus.ACTIVE.value)
        .order_by(Service.division, Service.slug, Operation.path, Operation.method)
    )
    return [
        GatewayOperation(
            method=method,
            path=f"/gw/{division}/{slug}{path}",
            operation_id=operation_id,
            summary=summary,
            service=name,
            service_division=division,
            service_slug=slug,
        )
        for method, path, operation_id, summary, name, division, slug in rows
    ]


# --- synonyms ----------------------------------------------------------------------------------


async def list_synonyms(session: AsyncSession) -> list[Synonym]:
    """Every synonym, by term then expansion."""
    rows = await session.scalars(select(Synonym).order_by(Synonym.term, Synonym.expansion))
    return list(rows.all())


async def add_synonym(session: AsyncSession, term: str, expansion: str) -> Synonym:
    """Add ``term`` → ``expansion`` (both folded); Conflict if the pair exists."""
    term, expansion = fold(term), fold(expansion)
    exists = await session.scalar(
        select(Synonym.id).where(Synonym.term == term, Synonym.expansion == expansion)
    )
    if exists is not None:
        raise Conflict(
            f"{term} → {expansion} is already a synonym.",
            extensions={"term": term, "expansion": expansion},
        )
    row = Synonym(term=term, expansion=expansion)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"{term} → {expansion} was added meanwhile.") from None
    return row


async def delete_synonyms(session: AsyncSession, term: str, expansion: str | None) -> int:
    """Delete ``term`` → ``expansion`` (or every expansion of ``term``); how many went."""
    query = delete(Synonym).where(Synonym.term == fold(term))
    if expansion is not None:
        query = query.where(Synonym.expansion == fold(expansion))
    result = await session.execute(query.returning(Synonym.id))
    return len(result.all())


async def synonym_pairs(session: AsyncSession) -> list[tuple[str, str]]:
    """(term, expansion) of every synonym, as stored."""
    rows = await session.execute(select(Synonym.term, Synonym.expansion))
    return [(term, expansion) for term, expansion in rows]
