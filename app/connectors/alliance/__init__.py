"""The ``alliance`` connector (entry point ``xyb.connectors: alliance``): the canonical alliance
API (``canonical.yaml``, its schemas from ``canonical.py``) at the partner apps of the
cross-province alliance, each in its own dialect (``dialects/``; see connector.py)."""

from importlib.resources import files

from app.connectors.alliance.connector import AllianceConnector, create

# The slug every partner's service is onboarded with, at the partner's division.
SLUG = "alliance"
PARTNERS = {"440000": "粤省事", "310000": "随申办", "360000": "赣服通"}


def canonical_document() -> str:
    """The canonical alliance API's OpenAPI document (YAML), onboarded once per partner with
    connector alliance."""
    return (files(__package__) / "canonical.yaml").read_text(encoding="utf-8")


__all__ = ["PARTNERS", "SLUG", "AllianceConnector", "canonical_document", "create"]
