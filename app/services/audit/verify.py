"""Verify the audit chains: recompute every record's hash, follow every link, check every
checkpoint's signature, and name the first record that does not verify, and why.

Pure over its inputs (records and checkpoints as mappings with the table's columns, public keys
by kid), so the same code verifies the database (``verify_database``, streamed in pages) and an
export file (``app.services.audit.export.verify_file``, no database).

Per writer, records arrive in their stored order (the database's ``ORDER BY writer, seq``, an
export's line order). What each kind of tampering looks like, and what the report calls it:

- **edited**: a record's content no longer hashes to its stored hash (or, rewritten with a new
  hash, no longer hashes to what the next record or a checkpoint chained to: "rewritten");
- **deleted**: a seq is missing between two records, or records a checkpoint signed are gone;
- **inserted**: a second record claims a seq that another one holds (the one the next record
  chains to is the original), or a record that hashes correctly does not chain to its
  predecessor;
- **reordered**: records moved: in a file, a seq that comes after a later one; in the
  database, where rows are sorted by seq, a record whose seq was changed hashes correctly only
  under another seq (the seq it was written as is named).

A checkpoint whose signature does not verify (or whose key is unknown) is a break too.

What is **not** a break: a chain that just stops (a crash loses the batch being written: the
records after the last checkpoint are reported as an *uncovered tail*), and a chain whose first
records were purged by retention (``app.services.audit.retention``). The rule for a chain that
starts after seq 1 (after a purge, or the first record of a ``--since`` window): its first
record's ``prev_hash`` names a record that is not there, and is trusted only as far as a
checkpoint covers it: a checkpoint at the seq just before proves it directly (its head hash must
equal that ``prev_hash``), and a later checkpoint proves it through the chain (the chain from the
first record, recomputed, must reach that checkpoint's head hash, and the recomputation covers
the ``prev_hash``). Retention keeps every checkpoint from the last purged seq on, so a full
verification after a purge always has one; a checkpoint *before* that seq still standing means
records were removed by something other than retention, which is a break ("deleted"). A window
with no checkpoint after its start is reported as unanchored, not as broken.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.services.audit.chain import fields_of, format_at, genesis, record_hash, verify_checkpoint

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "Break",
    "ChainVerifier",
    "Report",
    "WriterSummary",
    "verify",
    "verify_database",
]

# How far from its place a record's original seq is looked for when it hashes only under
# another one (a swap in the database); beyond this the record is reported as edited.
REORDER_SEARCH = 1000
PAGE = 5000


@dataclass(frozen=True)
class Break:
    """The first record (or checkpoint) of a writer's chain that does not verify."""

    writer: str
    seq: int
    kind: str  # "edited" | "deleted" | "inserted" | "reordered" | "rewritten" | "checkpoint"
    reason: str
    at: str | None = None
    event_id: str | None = None
    action: str | None = None

    def sentence(self) -> str:
        """One sentence naming the record and why it does not verify."""
        named = [f"writer {self.writer} seq {self.seq}"]
        if self.at:
            named.append(f"at {self.at}")
        if self.event_id:
            named.append(f"event {self.event_id}")
        if self.action:
            named.append(f"action {self.action}")
        return f"the audit record {', '.join(named)} does not verify ({self.kind}): {self.reason}"

    def as_json(self) -> dict[str, Any]:
        return {
            "writer": self.writer,
            "seq": self.seq,
            "kind": self.kind,
            "reason": self.reason,
            "at": self.at,
            "event_id": self.event_id,
            "action": self.action,
        }


@dataclass
class WriterSummary:
    """Where a writer's chain starts and ends, and how much of it the checkpoints cover."""

    writer: str
    records: int = 0
    checkpoints: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_at: str | None = None
    covered_to: int | None = None  # the last checkpoint's seq that matched the chain
    anchored: bool = False  # the chain's start is proven (genesis or a checkpoint)
    broken: Break | None = None

    @property
    def uncovered(self) -> int:
        """Records after the last matching checkpoint: a crash may have lost what followed."""
        if self.last_seq is None:
            return 0
        start = self.covered_to if self.covered_to is not None else (self.first_seq or 1) - 1
        return max(0, self.last_seq - start)

    def as_json(self) -> dict[str, Any]:
        return {
            "writer": self.writer,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_at": self.last_at,
            "covered_to": self.covered_to,
            "uncovered": self.uncovered,
            "anchored": self.anchored,
            "break": None if self.broken is None else self.broken.as_json(),
        }


@dataclass
class Report:
    """Every writer's summary; ``first`` is the first break found (None: everything verifies)."""

    writers: list[WriterSummary] = field(default_factory=list)
    window: bool = False

    @property
    def breaks(self) -> list[Break]:
        return [w.broken for w in self.writers if w.broken is not None]

    @property
    def first(self) -> Break | None:
        found = self.breaks
        return found[0] if found else None

    @property
    def ok(self) -> bool:
        return self.first is None

    @property
    def records(self) -> int:
        return sum(w.records for w in self.writers)

    @property
    def checkpoints(self) -> int:
        return sum(w.checkpoints for w in self.writers)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "window": self.window,
            "writers": [w.as_json() for w in self.writers],
        }


@dataclass(frozen=True)
class _Ref:
    """Enough of a record to name it in a break."""

    seq: int
    at: str | None
    event_id: str | None
    action: str | None
    hash: str


def _ref(record: Mapping[str, Any], seq: int) -> _Ref:
    at = record.get("at")
    return _Ref(
        seq=seq,
        at=None if at is None else format_at(at),
        event_id=record.get("event_id"),
        action=record.get("action"),
        hash=str(record.get("hash") or ""),
    )


@dataclass
class _Writer:
    summary: WriterSummary
    heads: dict[int, str]  # checkpoint seq -> signed head hash (only those whose signature holds)
    checkpoint_break: Break | None
    last: _Ref | None = None
    pending_anchor: bool = False
    gap: tuple[int, int] | None = None  # missing seqs while looking whether they come later
    duplicate: _Ref | None = None  # a second record at the last seq, until the next decides


class ChainVerifier:
    """Verifies records fed one at a time; memory holds one writer's checkpoints, not records.

    Call ``checkpoints(writer, rows)`` before that writer's first record (rows with writer,
    seq, head_hash, at, kid, signature), then ``add(record)`` for each record in stored order,
    ``end(writer)`` when a writer's records are done (optional: ``report`` ends the others).
    ``window`` verifies a slice: its start is not expected at seq 1, and checkpoints past its
    last record do not mean records are missing.
    """

    def __init__(self, keys: Mapping[str, Mapping[str, Any] | str], *, window: bool = False):
        self.keys = keys
        self.window = window
        self._open: dict[str, _Writer] = {}
        self._done: list[WriterSummary] = []
        self._checkpoints: dict[str, list[Mapping[str, Any]]] = {}

    # -- input ----------------------------------------------------------------------------

    def checkpoints(self, writer: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self._checkpoints[writer] = list(rows)

    def add(self, record: Mapping[str, Any]) -> None:
        writer = str(record["writer"])
        w = self._open.get(writer)
        if w is None:
            w = self._start_writer(writer)
        seq = int(record["seq"])
        w.summary.records += 1
        if w.summary.broken is not None:
            # Only one question is left: does a seq reported missing come later (reordered)?
            if w.gap is not None and w.gap[0] <= seq <= w.gap[1] and w.last is not None:
                here = _ref(record, seq)
                w.summary.broken = self._break(
                    writer,
                    here,
                    "reordered",
                    f"it is stored after seq {w.last.seq}, a later record",
                )
                w.gap = None
            return
        self._check(w, record, seq)

    def end(self, writer: str) -> None:
        w = self._open.pop(writer, None)
        if w is not None:
            self._finish(w)

    def seen(self) -> set[str]:
        """The writers whose records were fed so far."""
        return {w.writer for w in self._done} | set(self._open)

    def report(self) -> Report:
        for writer in list(self._open):
            self.end(writer)
        for writer in list(self._checkpoints):
            self._without_records(writer)
        return Report(writers=sorted(self._done, key=lambda s: s.writer), window=self.window)

    # -- the checks -----------------------------------------------------------------------

    def _start_writer(self, writer: str) -> _Writer:
        heads: dict[int, str] = {}
        first_bad: Break | None = None
        rows = self._checkpoints.pop(writer, [])
        for row in sorted(rows, key=lambda r: int(r["seq"])):
            seq = int(row["seq"])
            jwk = self.keys.get(str(row["kid"]))
            reason = None
            if jwk is None:
                reason = f"its checkpoint is signed by key {row['kid']}, which no key list holds"
            elif not verify_checkpoint(
                jwk,
                writer=writer,
                seq=seq,
                head_hash=str(row["head_hash"]),
                at=row["at"],
                signature=str(row["signature"]),
            ):
                reason = f"its checkpoint's signature does not verify with key {row['kid']}"
            if reason is None:
                heads[seq] = str(row["head_hash"])
            elif first_bad is None:
                first_bad = Break(writer, seq, "checkpoint", reason, at=format_at(row["at"]))
        summary = WriterSummary(writer=writer, checkpoints=len(rows))
        w = _Writer(summary=summary, heads=heads, checkpoint_break=first_bad)
        self._open[writer] = w
        return w

    def _break(self, writer: str, ref: _Ref, kind: str, reason: str) -> Break:
        return Break(writer, ref.seq, kind, reason, ref.at, ref.event_id, ref.action)

    def _fail(self, w: _Writer, ref: _Ref, kind: str, reason: str) -> None:
        w.summary.broken = self._break(w.summary.writer, ref, kind, reason)

    def _check(self, w: _Writer, record: Mapping[str, Any], seq: int) -> None:
        here = _ref(record, seq)
        fields = fields_of(record)
        stored = here.hash
        computed = record_hash(fields)
        prev = str(record.get("prev_hash") or "")
        last = w.last
        if last is None:
            if not self._check_start(w, here, prev, computed == stored):
                return
        elif w.duplicate is not None:
            if not self._settle_duplicate(w, here, prev, seq):
                return
        elif seq == last.seq:
            if computed != stored:
                self._fail(w, here, "inserted", f"a second record claims seq {seq}")
            else:
                w.duplicate = here  # the next record says which of the two is the original
            return
        elif seq < last.seq:
            self._fail(w, here, "reordered", f"it is stored after seq {last.seq}, a later record")
            return
        elif seq > last.seq + 1:
            missing = seq - 1 - last.seq
            what = f"seq {last.seq + 1}" if missing == 1 else f"seqs {last.seq + 1}-{seq - 1}"
            gone = _Ref(last.seq + 1, None, None, None, "")
            self._fail(
                w, gone, "deleted", f"{what} missing: seq {seq} follows seq {last.seq} ({last.at})"
            )
            w.gap = (last.seq + 1, seq - 1)
            w.last = here
            return
        elif computed == stored and prev != last.hash:
            self._fail(
                w,
                here,
                "inserted",
                f"it does not chain to seq {last.seq} (its prev_hash is not that record's hash):"
                " it was put in place of the original, or the record before it was rewritten",
            )
            return
        if computed != stored:
            self._fail(w, here, *self._why_mismatch(fields, stored, seq))
            return
        head = w.heads.get(seq)
        if head is not None:
            if head != stored:
                since = w.summary.covered_to
                start = f"after seq {since}" if since is not None else "before it"
                self._fail(
                    w,
                    here,
                    "rewritten",
                    f"the chain here is not the one checkpoint {seq} signed: records {start}"
                    " were rewritten with new hashes",
                )
                return
            w.summary.covered_to = seq
            if w.pending_anchor:
                w.pending_anchor = False
                w.summary.anchored = True
        if w.summary.first_seq is None:
            w.summary.first_seq = seq
        w.summary.last_seq = seq
        w.summary.last_at = here.at
        w.last = here

    def _check_start(self, w: _Writer, here: _Ref, prev: str, self_consistent: bool) -> bool:
        """The first record of a writer (or of a window): where its prev_hash may point."""
        writer = w.summary.writer
        seq = here.seq
        if seq == 1:
            if prev != genesis(writer):
                kind = "edited" if not self_consistent else "inserted"
                self._fail(w, here, kind, "its prev_hash is not the writer's genesis hash")
                return False
            w.summary.anchored = True
            return True
        head = w.heads.get(seq - 1)
        if not self.window:
            earlier = [c for c in w.heads if c < seq - 1]
            if earlier:
                # Retention keeps every checkpoint from the last purged seq on: one before it
                # still standing means these records went some other way.
                c = max(earlier)
                gone = _Ref(c + 1, None, None, None, "")
                self._fail(
                    w,
                    gone,
                    "deleted",
                    f"seqs {c + 1}-{seq - 1} missing: checkpoint {c} stands, yet the chain"
                    f" starts at seq {seq}",
                )
                return False
            if head is None and not any(c >= seq for c in w.heads):
                gone = _Ref(1, None, None, None, "")
                self._fail(
                    w,
                    gone,
                    "deleted",
                    f"seqs 1-{seq - 1} missing and no checkpoint covers the chain's start at"
                    f" seq {seq} (retention purges only what a checkpoint covers)",
                )
                return False
        if head is not None:
            if head != prev:
                self._fail(
                    w,
                    here,
                    "inserted" if self_consistent else "edited",
                    f"its prev_hash is not the head hash checkpoint {seq - 1} signed",
                )
                return False
            w.summary.anchored = True
            return True
        w.pending_anchor = True
        return True

    def _settle_duplicate(self, w: _Writer, here: _Ref, prev: str, seq: int) -> bool:
        """Two records at one seq: the original is the one the next record chains to."""
        assert w.duplicate is not None
        assert w.last is not None
        first, second = w.last, w.duplicate
        w.duplicate = None
        if seq == first.seq + 1 and prev == second.hash and prev != first.hash:
            self._fail(w, first, "inserted", f"a second record at seq {first.seq} is the original")
            return False
        self._fail(w, second, "inserted", f"a second record claims seq {second.seq}")
        return False

    def _why_mismatch(self, fields: dict[str, Any], stored: str, seq: int) -> tuple[str, str]:
        """An edited record, or one whose seq was changed (it hashes under its original seq)."""
        lo, hi = max(1, seq - REORDER_SEARCH), seq + REORDER_SEARCH
        for candidate in range(lo, hi + 1):
            if candidate != seq and record_hash({**fields, "seq": candidate}) == stored:
                return "reordered", f"it was written as seq {candidate} and moved to seq {seq}"
        return "edited", "its content does not match its hash"

    def _without_records(self, writer: str) -> None:
        """A writer with checkpoints and no record: purged whole, which leaves at most its last
        checkpoint (retention keeps those from the last purged seq on); two or more standing
        mean its records went some other way."""
        w = self._start_writer(writer)
        self._open.pop(writer, None)
        summary = w.summary
        if not self.window and len(w.heads) > 1:
            c = min(w.heads)
            gone = _Ref(c + 1, None, None, None, "")
            self._fail(
                w,
                gone,
                "deleted",
                f"the writer has no records left, but checkpoints {c} to {max(w.heads)} stand",
            )
        bad = w.checkpoint_break
        if bad is not None and (summary.broken is None or bad.seq <= summary.broken.seq):
            summary.broken = bad
        self._done.append(summary)

    def _finish(self, w: _Writer) -> None:
        summary = w.summary
        if summary.broken is None and w.duplicate is not None and w.last is not None:
            # Nothing follows the two: a checkpoint at that seq may still say which is original.
            head = w.heads.get(w.last.seq)
            culprit = w.last if head == w.duplicate.hash else w.duplicate
            self._fail(w, culprit, "inserted", f"a second record claims seq {culprit.seq}")
        if summary.broken is None and not self.window and summary.last_seq is not None:
            beyond = [c for c in w.heads if c > summary.last_seq]
            if beyond:
                c = min(beyond)
                gone = _Ref(summary.last_seq + 1, None, None, None, "")
                self._fail(
                    w,
                    gone,
                    "deleted",
                    f"the chain ends at seq {summary.last_seq}, but checkpoint {c} signed a chain"
                    f" up to seq {c}",
                )
        if summary.broken is None and w.pending_anchor and not self.window:
            # Only reached when the checkpoints after the start all lie past the last record,
            # which the check above reports; kept so an unproven start is never passed.
            gone = _Ref(summary.first_seq or 1, None, None, None, "")
            self._fail(w, gone, "deleted", "no checkpoint proves the chain's start")
        bad = w.checkpoint_break
        if bad is not None and (summary.broken is None or bad.seq <= summary.broken.seq):
            summary.broken = bad
        self._done.append(summary)


def verify(
    records: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    keys: Mapping[str, Mapping[str, Any] | str],
    *,
    window: bool = False,
) -> Report:
    """Verify records (in stored order) against checkpoints and public keys (JWKs by kid)."""
    by_writer: dict[str, list[Mapping[str, Any]]] = {}
    for row in checkpoints:
        by_writer.setdefault(str(row["writer"]), []).append(row)
    verifier = ChainVerifier(keys, window=window)
    for writer, rows in by_writer.items():
        verifier.checkpoints(writer, rows)
    for record in records:
        verifier.add(record)
    return verifier.report()


# -- the database ---------------------------------------------------------------------------


async def stored_keys(session: AsyncSession) -> dict[str, str]:
    """Every public key that signed a checkpoint, by kid (its JWK as JSON text)."""
    from sqlalchemy import select

    from app.models.audit import AuditKey

    rows = await session.execute(select(AuditKey.kid, AuditKey.jwk))
    return {kid: jwk for kid, jwk in rows}


async def writer_ranges(
    session: AsyncSession, since: datetime | None, until: datetime | None
) -> list[tuple[str, int, int]]:
    """Per writer, the seqs a window covers: from its first record in the window (by time) to
    its last, extended to the first checkpoint at or after that (when there is one), so the
    window's last records are covered by a signature too."""
    from sqlalchemy import func, select

    from app.models.audit import AuditCheckpoint, AuditRecord

    query = select(AuditRecord.writer, func.min(AuditRecord.seq), func.max(AuditRecord.seq))
    if since is not None:
        query = query.where(AuditRecord.at >= since)
    if until is not None:
        query = query.where(AuditRecord.at < until)
    rows = await session.execute(query.group_by(AuditRecord.writer).order_by(AuditRecord.writer))
    ranges: list[tuple[str, int, int]] = []
    for writer, lo, hi in rows.all():
        covering = await session.scalar(
            select(func.min(AuditCheckpoint.seq)).where(
                AuditCheckpoint.writer == writer, AuditCheckpoint.seq >= hi
            )
        )
        ranges.append((writer, int(lo), int(hi if covering is None else covering)))
    return ranges


async def stream_records(
    session: AsyncSession,
    ranges: list[tuple[str, int, int]] | None = None,
    page: int | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Records in (writer, seq) order, a page at a time (keyset paging on the primary key, so
    millions of rows never sit in memory and a duplicated seq is not skipped at a page's edge).

    ``ranges`` limits each writer to a seq range (a window: the records between the first and
    last in the window by time, so a record whose time is slightly out of order is not taken
    for a gap); None streams every record."""
    from sqlalchemy import select, tuple_

    from app.models.audit import AuditRecord

    table = AuditRecord.__table__
    page = page or PAGE
    key = (table.c.writer, table.c.seq, table.c.at)
    spans: list[tuple[str | None, int, int | None]] = (
        [(None, 0, None)] if ranges is None else [(w, lo, hi) for w, lo, hi in ranges]
    )
    for writer, lo, hi in spans:
        after: tuple[Any, ...] | None = None
        while True:
            query = select(table).order_by(*key).limit(page)
            if writer is not None:
                query = query.where(table.c.writer == writer, table.c.seq >= lo)
            if hi is not None:
                query = query.where(table.c.seq <= hi)
            if after is not None:
                query = query.where(tuple_(*key) > after)
            rows = (await session.execute(query)).mappings().all()
            for row in rows:
                yield dict(row)
            if len(rows) < page:
                break
            last = rows[-1]
            after = (last["writer"], last["seq"], last["at"])


async def writer_checkpoints(session: AsyncSession, writer: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from app.models.audit import AuditCheckpoint

    table = AuditCheckpoint.__table__
    rows = await session.execute(
        select(table).where(table.c.writer == writer).order_by(table.c.seq)
    )
    return [dict(r) for r in rows.mappings()]


async def verify_database(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    on_record: Callable[[int], None] | None = None,
) -> Report:
    """Verify the chains stored in the database (or a time window of them), streaming.

    ``on_record(n)`` is told every few thousand records how many were read (progress)."""
    window = since is not None or until is not None
    keys = await stored_keys(session)
    ranges = await writer_ranges(session, since, until) if window else None
    verifier = ChainVerifier(keys, window=window)
    current: str | None = None
    count = 0
    async for record in stream_records(session, ranges):
        writer = str(record["writer"])
        if writer != current:
            if current is not None:
                verifier.end(current)
            verifier.checkpoints(writer, await writer_checkpoints(session, writer))
            current = writer
        verifier.add(record)
        count += 1
        if on_record is not None and count % 1000 == 0:
            on_record(count)
    if on_record is not None:
        on_record(count)
    if not window:
        # Writers whose every record is gone (purged, or not): their checkpoints still verify.
        from sqlalchemy import select

        from app.models.audit import AuditCheckpoint

        seen = verifier.seen()
        for writer in await session.scalars(select(AuditCheckpoint.writer).distinct()):
            if writer not in seen:
                verifier.checkpoints(writer, await writer_checkpoints(session, writer))
    return verifier.report()


def keys_from_jwks(jwks: Iterable[Mapping[str, Any] | str]) -> dict[str, Mapping[str, Any] | str]:
    """Public keys by kid from a list of JWKs (objects or JSON text)."""
    found: dict[str, Mapping[str, Any] | str] = {}
    for jwk in jwks:
        mapping = json.loads(jwk) if isinstance(jwk, str) else jwk
        kid = mapping.get("kid")
        if isinstance(kid, str):
            found[kid] = mapping
    return found
