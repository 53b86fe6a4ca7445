"""Searching the catalog: filters, Chinese substring search with synonyms, keyset pagination.

Text search is a LIKE on ``items.search_text`` (name, department and type, folded) with the
query folded the same way and its wildcards escaped, OR'ed with the query rewritten by every
synonym whose term it contains (社保 → 社会保险, 社保缴费 → 社会保险缴费). That is a substring
match, so two-character queries (社保, 医保) work without a tokenizer, alike on SQLite and
PostgreSQL. Results come exact name matches first, then shorter names, then by code; the cursor
carries the last row's sort key, signed, and the fingerprint of the query it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cursors import BadCursor, CursorCodec, fingerprint
from app.models.catalog import Item
from app.services.catalog.normalise import LIKE_ESCAPE, contains_pattern, fold
from app.services.catalog.store import FRESH, synonym_pairs

# The longest text query, in characters as sent (a folded query is never longer to search).
Q_MAX_LENGTH = 100


def text_query(q: str | None) -> str | None:
    """The text to search for: None when ``q`` is absent, empty or only whitespace.

    ``q=``, ``q=%20`` and no ``q`` are one query (every item, the same cursors), not a 422 for
    one and everything for the other.
    """
    if q is None or not fold(q):
        return None
    return q.strip()


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a search asks for (every field optional)."""

    q: str | None = None
    division: str | None = None
    type: str | None = None
    service_object: str | None = None
    online: bool | None = None
    one_network: bool | None = None
    cross_province: bool | None = None

    def fingerprint(self) -> str:
        """A short digest of the query: a cursor only continues the query it came from."""
        return fingerprint(self)


@dataclass(frozen=True, slots=True)
class SortKey:
    """Where a page ended: (exact match rank, name length, code)."""

    rank: int
    length: int
    code: str


class SearchCursors:
    """The search's cursors: a SortKey in the shared signed form (app.core.cursors)."""

    def __init__(self, sign: Callable[[str], str]) -> None:
        self._codec = CursorCodec(sign)

    def encode(self, key: SortKey, query_fingerprint: str) -> str:
        """The cursor continuing after ``key``."""
        return self._codec.encode([key.rank, key.length, key.code], query_fingerprint)

    def decode(self, cursor: str, query_fingerprint: str) -> SortKey:
        """The sort key of a cursor of this query; BadCursor otherwise."""
        rank, length, code = self._codec.decode(cursor, query_fingerprint, 3)
        if not (isinstance(rank, int) and isinstance(length, int) and isinstance(code, str)):
            raise BadCursor("the cursor does not decode")  # pragma: no cover - signed by us
        return SortKey(rank, length, code)


def variants(folded: str, synonyms: Sequence[tuple[str, str]]) -> list[str]:
    """The folded query and its rewrites by every synonym whose term it contains."""
    found = {folded}
    for term, expansion in synonyms:
        term_f, expansion_f = fold(term), fold(expansion)
        if term_f and term_f in folded and expansion_f:
            found.add(folded.replace(term_f, expansion_f))
    return sorted(found, key=lambda v: (len(v), v))


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and the key after its last row (None on the last page)."""

    items: list[Item]
    next_key: SortKey | None


async def search(
    session: AsyncSession, query: SearchQuery, *, limit: int, after: SortKey | None = None
) -> Page:
    """One page of items matching ``query``, after ``after`` in result order."""
    conditions: list[ColumnElement[bool]] = []
    exact_names: list[str] = []
    text = (query.q or "").strip()
    folded = fold(text)
    if folded:
        terms = variants(folded, await synonym_pairs(session))
        conditions.append(
            or_(
                Item.code == text,
                *(Item.search_text.like(contains_pattern(t), escape=LIKE_ESCAPE) for t in terms),
            )
        )
        exact_names = sorted({text, *terms})
    for column, value in (
        (Item.division, query.division),
        (Item.type, query.type),
        (Item.service_object, query.service_object),
        (Item.online, query.online),
        (Item.one_network, query.one_network),
        (Item.cross_province, query.cross_province),
    ):
        if value is not None:
            conditions.append(column == value)
    length = func.length(Item.name)
    # Without a text query every row ranks 1: the rank is then left out of the SQL.
    rank = case((Item.name.in_(exact_names), 0), else_=1) if exact_names else None
    if after is not None:
        after_length = or_(
            length > after.length, and_(length == after.length, Item.code > after.code)
        )
        if rank is not None:
            conditions.append(or_(rank > after.rank, and_(rank == after.rank, after_length)))
        else:
            conditions.append(after_length)
    # The sort runs over narrow rows (id and key); the page's whole items are read afterwards.
    statement = (
        select(Item.id, rank if rank is not None else literal(1), length, Item.code)
        .where(*conditions)
        .order_by(*(e for e in (rank, length, Item.code) if e is not None))
        .limit(limit + 1)
    )
    keys = (await session.execute(statement)).all()
    page = keys[:limit]
    rows = select(Item).where(Item.id.in_([k[0] for k in page]))
    found = {item.id: item for item in await session.scalars(rows, execution_options=FRESH)}
    items = [found[key[0]] for key in page]
    next_key = None
    if len(keys) > limit:
        _, last_rank, last_length, last_code = keys[limit - 1]
        next_key = SortKey(int(last_rank), int(last_length), str(last_code))
    return Page(items, next_key)
