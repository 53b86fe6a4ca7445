"""The chain: how audit records are hashed and checkpoints signed. Everything verifies against
exactly these rules, so change nothing here without a new format version.

- ``canonical(obj)``: JSON with sorted keys, no spaces, UTF-8 (not ASCII-escaped).
- A record's fields are every ``audit_records`` column except ``hash`` (``FIELDS``); ``at`` is
  written as UTC with microseconds (``2026-12-07T14:05:00.123456Z``), both backends keep them.
- ``record_hash(fields)`` is the hex SHA-256 of the canonical fields; ``prev_hash`` (one of the
  fields) is the hash of the writer's previous record, and seq 1's is ``genesis(writer)``.
- A checkpoint signs ``canonical({"writer", "seq", "head_hash", "at"})`` with Ed25519 (the
  gateway's current signing key); the signature is base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from app.identity.keys import SigningKey, public_key_from_jwk
from app.models.audit import AuditCheckpoint, AuditRecord

__all__ = [
    "FIELDS",
    "GENESIS_PREFIX",
    "canonical",
    "checkpoint_payload",
    "fields_of",
    "format_at",
    "genesis",
    "record_hash",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_checkpoint_row",
]

# Every column of audit_records but ``hash``, in the table's order (the hash sorts keys anyway).
FIELDS: tuple[str, ...] = (
    "writer",
    "seq",
    "at",
    "kind",
    "event_id",
    "request_id",
    "client_id",
    "subject",
    "division",
    "service",
    "operation_id",
    "item_code",
    "method",
    "status",
    "outcome",
    "latency_us",
    "request_digest",
    "response_digest",
    "actor",
    "action",
    "object",
    "summary",
    "prev_hash",
)
GENESIS_PREFIX = "xyb-audit-genesis:"


def canonical(obj: Any) -> bytes:
    """The canonical JSON bytes of ``obj``: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_at(at: datetime | str) -> str:
    """``at`` as the chain writes it: UTC, microseconds, ``Z``. A string (from an export) is
    taken as already written so. A naive datetime is taken as UTC (SQLite without the model's
    type decorator, e.g. a raw query)."""
    if isinstance(at, str):
        return at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fields_of(record: AuditRecord | Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of a record (an ``AuditRecord`` row or a mapping with its columns,
    e.g. an export line; extra keys such as ``hash`` or ``type`` are ignored)."""
    if isinstance(record, Mapping):
        values = {name: record.get(name) for name in FIELDS}
    else:
        values = {name: getattr(record, name) for name in FIELDS}
    at = values["at"]
    if at is None:
        raise ValueError("an audit record needs its time ('at')")
    values["at"] = format_at(at)
    return values


def record_hash(fields: Mapping[str, Any]) -> str:
    """The hex SHA-256 of a record's canonical fields (see ``fields_of``)."""
    return hashlib.sha256(canonical(dict(fields))).hexdigest()


def genesis(writer: str) -> str:
    """The ``prev_hash`` of a writer's first record (seq 1)."""
    return hashlib.sha256((GENESIS_PREFIX + writer).encode()).hexdigest()


def checkpoint_payload(*, writer: str, seq: int, head_hash: str, at: datetime | str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return canonical({"writer": writer, "seq": seq, "head_hash": head_hash, "at": format_at(at)})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_checkpoint(
    key: SigningKey, *, writer: str, seq: int, head_hash: str, at: datetime | str
) -> str:
    """The base64url Ed25519 signature of a checkpoint (ValueError if ``key`` cannot sign)."""
    if key.private_key is None:
        raise ValueError(f"key {key.kid} has no private key to sign a checkpoint with")
    payload = checkpoint_payload(writer=writer, seq=seq, head_hash=head_hash, at=at)
    return _b64url(key.private_key.sign(payload))


def verify_checkpoint(
    jwk: Mapping[str, Any] | str,
    *,
    writer: str,
    seq: int,
    head_hash: str,
    at: datetime | str,
    signature: str,
) -> bool:
    """Whether ``signature`` is the signature of this checkpoint by the key ``jwk`` (a public
    JWK, or its JSON text as stored in ``audit_keys``). False on a malformed key or signature."""
    try:
        mapping = json.loads(jwk) if isinstance(jwk, str) else jwk
        if not isinstance(mapping, Mapping):
            return False
        key = public_key_from_jwk(mapping)
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, binascii.Error, TypeError):
        return False
    payload = checkpoint_payload(writer=writer, seq=seq, head_hash=head_hash, at=at)
    try:
        key.public_key.verify(raw, payload)
    except InvalidSignature:
        return False
    return True


def verify_checkpoint_row(jwk: Mapping[str, Any] | str, checkpoint: AuditCheckpoint) -> bool:
    """``verify_checkpoint`` for an ``audit_checkpoints`` row."""
    return verify_checkpoint(
        jwk,
        writer=checkpoint.writer,
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        at=checkpoint.at,
        signature=checkpoint.signature,
    )
