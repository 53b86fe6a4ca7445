"""The canonical document's schemas, from the pydantic models (canonical.py).

``canonical.yaml`` is written by hand down to ``components.schemas``; the schemas below it are
generated here, so the document and the connector's answers share one definition. A test keeps
the shipped file equal to what this writes; after changing a model, run::

    python -m app.connectors.alliance.document
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from app.connectors.alliance.canonical import SCHEMAS, FilingCancellation, FilingRequest
from app.connectors.alliance.canonical import TransferRequest as TransferRequestModel

PATH = Path(__file__).with_name("canonical.yaml")
MARKER = "\n  schemas:"
_REQUESTS = (FilingRequest, FilingCancellation, TransferRequestModel)


def schemas() -> dict[str, Any]:
    """Every model's JSON Schema, named as in the document: requests as the gateway validates
    them, answers as the connector serialises them."""
    _, top = models_json_schema(
        [(model, "validation" if model in _REQUESTS else "serialization") for model in SCHEMAS],
        ref_template="#/components/schemas/{model}",
    )
    found: dict[str, Any] = top["$defs"]
    for schema in found.values():
        _untitled(schema)
        # No model titles either: the merged /gw/openapi.json holds this document once per
        # partner, and client generators name models by title (three "Filing"s collide).
        schema.pop("title", None)
    return dict(sorted(found.items()))


def _untitled(schema: Any) -> None:
    """Drops pydantic's titles of properties ("Employername"): the names say it, better."""
    if isinstance(schema, dict):
        for value in (schema.get("properties") or {}).values():
            if isinstance(value, dict):
                value.pop("title", None)
        for value in schema.values():
            _untitled(value)
    elif isinstance(schema, list):
        for value in schema:
            _untitled(value)


def render(text: str) -> str:
    """``text`` (the document) with its ``components.schemas`` generated afresh."""
    head, marker, _ = text.partition(MARKER)
    if not marker:
        raise ValueError("the document has no components.schemas section (it must come last)")
    body = yaml.safe_dump(
        {"schemas": schemas()}, allow_unicode=True, sort_keys=False, width=100, indent=2
    )
    indented = "".join("  " + line if line.strip() else line for line in body.splitlines(True))
    return head + "\n" + indented


def main() -> None:
    PATH.write_text(render(PATH.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
