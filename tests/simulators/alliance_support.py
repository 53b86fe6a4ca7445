"""What the tests of the simulators that check the gateway's assertion and keep a contract (the
e-license registry, 粤省事, 随申办, 赣服通) share: the gateway's signed assertion, and their
contract verified the way a user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from app.identity.keys import KeyRing, generate_key
from app.identity.tokens import issue_assertion

ROOT = Path(__file__).resolve().parent.parent.parent
# The gateway's issuer in these tests.
ISSUER = "https://gateway.example"


def fresh_keys() -> KeyRing:
    """A gateway key ring of one new key."""
    return KeyRing([generate_key(datetime.now(UTC))])


def gateway_assertion(keys: KeyRing, **claims: Any) -> str:
    """The gateway's assertion by :data:`ISSUER`, signed with ``keys``; ``claims`` are the
    arguments of ``issue_assertion`` (``audience`` and ``id_number`` at least; any given here
    overrides the defaults, ``issuer`` included)."""
    return issue_assertion(
        keys, **{"issuer": ISSUER, "subject": "pairwise-subject", "client_id": "client-1", **claims}
    )


def assert_document_anchored(contract: Path, document: str) -> None:
    """The contract's ``<name>.openapi.yaml`` beside it is ``document``, byte for byte, and the
    contract names its digest."""
    name = contract.name.removesuffix(".contract.yaml")
    copy = (contract.parent / f"{name}.openapi.yaml").read_bytes()
    assert copy == document.encode("utf-8")
    text = yaml.safe_load(contract.read_text(encoding="utf-8"))
    assert text["openapi"]["sha256"] == hashlib.sha256(copy).hexdigest()


def assert_contract_passes(contract: Path, summary: str) -> None:
    """`xyb contracts verify <contract> --target simulator` succeeds, saying ``summary``."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "app.cli", "contracts", "verify"),
            *(str(contract), "--target", "simulator"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary in result.stdout
