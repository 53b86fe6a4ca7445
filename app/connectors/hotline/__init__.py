"""The ``hotline`` connector (entry point ``xyb.connectors: hotline``): the canonical 12345 API
(``canonical.yaml``) over the hotline system's own protocol, with tickets, their history,
ratings (好差评) and follow-ups kept by the gateway (see connector.py)."""

from importlib.resources import files

from app.connectors.hotline.connector import HotlineConnector, create

DIVISION = "430000"
SLUG = "hotline"


def canonical_document() -> str:
    """The canonical hotline API's OpenAPI document (YAML), onboarded with connector hotline."""
    return (files(__package__) / "canonical.yaml").read_text(encoding="utf-8")


__all__ = ["DIVISION", "SLUG", "HotlineConnector", "canonical_document", "create"]
