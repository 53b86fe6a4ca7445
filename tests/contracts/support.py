"""Shared helpers for the contract tests: the fixture files and small builders."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

from app.contracts import Contract, parse_contract
from app.services.openapi import parse_document

FILES = Path(__file__).parent / "files"
PETS_OPENAPI = FILES / "pets.openapi.yaml"
PETS_CONTRACT = FILES / "pets.contract.yaml"
PETS_SHA256 = hashlib.sha256(PETS_OPENAPI.read_bytes()).hexdigest()


def pets_document() -> dict[str, Any]:
    """A fresh copy of the pets provider's OpenAPI document (parsed)."""
    return parse_document(PETS_OPENAPI.read_bytes())


def pets_contract_data() -> dict[str, Any]:
    """The pets contract file as plain data, to be changed by a test."""
    data = yaml.safe_load(PETS_CONTRACT.read_text("utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def contract_with(
    *interactions: dict[str, Any], base_dir: Path | None = FILES, sha256: str = PETS_SHA256
) -> Contract:
    """A pets contract holding just these interactions."""
    data: dict[str, Any] = {
        "format": 1,
        "connector": "municipal",
        "provider": "pets",
        "openapi": {"path": "pets.openapi.yaml", "sha256": sha256},
        "interactions": list(interactions),
    }
    return parse_contract(data, source="test", base_dir=base_dir)


def interaction(
    operation: str,
    path: str,
    *,
    status: int = 200,
    ident: str = "one",
    **parts: Any,
) -> dict[str, Any]:
    """An interaction: ``request`` members (method, query, headers, json, form, ...) and
    ``body``/``xml``/``headers_expected`` for the response."""
    request: dict[str, Any] = {"path": path}
    response: dict[str, Any] = {"status": status}
    for key, value in parts.items():
        if key == "body":
            response["body"] = value
        elif key == "xml":
            response["xml"] = value
        elif key == "response_headers":
            response["headers"] = value
        else:
            request[key] = value
    return {"id": ident, "operation": operation, "request": request, "response": response}
