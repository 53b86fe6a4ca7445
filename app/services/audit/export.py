"""Export the audit log as JSON Lines, and verify such a file with no database.

The file (``xyb audit export``):

- line 1, the header: ``{"format": "xyb-audit/1", "exported_at", "since", "until",
  "keys": [public JWK, ...]}``: every key that signed a checkpoint, so the file verifies alone;
- then, writer by writer, its checkpoints (``{"type": "checkpoint", "writer", "seq",
  "head_hash", "at", "kid", "signature"}``) and its records in seq order (``{"type": "record",
  ...every audit_records column, "hash"}``), ``at`` as the chain writes it (UTC, microseconds).

A window export (``--since``/``--until``) holds, per writer, the records from its first in the
window to its last and on to the next checkpoint (``verify.writer_ranges``), and the checkpoints
from the seq before the first to that one: verifying it follows the window rule of
``app.services.audit.verify`` (the header's since/until say so).

Verifying a file reads it twice (checkpoints and keys first, then records), so memory holds the
checkpoints' head hashes, never the records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.services.audit.chain import FIELDS, canonical, format_at
from app.services.audit.verify import (
    ChainVerifier,
    Report,
    keys_from_jwks,
    stored_keys,
    stream_records,
    writer_checkpoints,
    writer_ranges,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["FORMAT", "ExportError", "export_database", "read_export", "verify_file"]

FORMAT = "xyb-audit/1"
CHECKPOINT_FIELDS = ("writer", "seq", "head_hash", "at", "kid", "signature")


class ExportError(ValueError):
    """The file is not an audit export (or a line of it is not JSON): says which line."""


def record_line(record: Mapping[str, Any]) -> str:
    row = {name: record.get(name) for name in (*FIELDS, "hash")}
    row["at"] = format_at(record["at"])
    return json.dumps({"type": "record", **row}, ensure_ascii=False, separators=(",", ":"))


def checkpoint_line(checkpoint: Mapping[str, Any]) -> str:
    row = {name: checkpoint.get(name) for name in CHECKPOINT_FIELDS}
    row["at"] = format_at(checkpoint["at"])
    return json.dumps({"type": "checkpoint", **row}, ensure_ascii=False, separators=(",", ":"))


async def export_database(
    session: AsyncSession,
    out: IO[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    on_record: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Write the export to ``out``; returns (records, checkpoints) written."""
    keys = await stored_keys(session)
    header = {
        "format": FORMAT,
        "exported_at": format_at(datetime.now(UTC)),
        "since": None if since is None else format_at(since),
        "until": None if until is None else format_at(until),
        "keys": [json.loads(jwk) for _, jwk in sorted(keys.items())],
    }
    out.write(canonical(header).decode() + "\n")
    window = since is not None or until is not None
    ranges = await writer_ranges(session, since, until) if window else None
    bounds = {w: (lo, hi) for w, lo, hi in ranges or []}
    records = checkpoints = 0
    current: str | None = None
    async for record in stream_records(session, ranges):
        writer = str(record["writer"])
        if writer != current:
            current = writer
            for row in await writer_checkpoints(session, writer):
                if writer in bounds:
                    lo, hi = bounds[writer]
                    if not lo - 1 <= int(row["seq"]) <= hi:
                        continue
                out.write(checkpoint_line(row) + "\n")
                checkpoints += 1
        out.write(record_line(record) + "\n")
        records += 1
        if on_record is not None and records % 1000 == 0:
            on_record(records)
    return records, checkpoints


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExportError(f"line {number} of {path} is not JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise ExportError(f"line {number} of {path} is not a JSON object")
            yield number, value


def read_export(path: Path) -> dict[str, Any]:
    """The header of an export file (ExportError when it is not one)."""
    for number, header in _lines(path):
        if header.get("format") != FORMAT or not isinstance(header.get("keys"), list):
            raise ExportError(
                f"line {number} of {path} is not the header of an audit export ({FORMAT})"
            )
        return header
    raise ExportError(f"{path} is empty")


def verify_file(path: Path, on_record: Callable[[int], None] | None = None) -> Report:
    """Verify an export file, offline: the keys and checkpoints it carries, then its records."""
    header = read_export(path)
    window = header.get("since") is not None or header.get("until") is not None
    verifier = ChainVerifier(keys_from_jwks(header["keys"]), window=window)
    checkpoints: dict[str, list[dict[str, Any]]] = {}
    for number, line in _lines(path):
        if line.get("type") == "checkpoint":
            missing = [name for name in CHECKPOINT_FIELDS if line.get(name) is None]
            if missing:
                raise ExportError(f"line {number}: a checkpoint without {', '.join(missing)}")
            checkpoints.setdefault(str(line["writer"]), []).append(line)
    for writer, rows in checkpoints.items():
        verifier.checkpoints(writer, rows)
    count = 0
    for number, line in _lines(path):
        if line.get("type") != "record":
            continue
        for name in ("writer", "seq", "at", "hash"):
            if line.get(name) is None:
                raise ExportError(f"line {number}: a record without {name}")
        verifier.add(line)
        count += 1
        if on_record is not None and count % 1000 == 0:
            on_record(count)
    return verifier.report()
