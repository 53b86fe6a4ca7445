"""The ``elicense`` connector (entry point ``xyb.connectors: elicense``): the canonical e-license
API (``canonical.yaml``) over the registry's own protocol (see connector.py)."""

from importlib.resources import files

from app.connectors.elicense.connector import ElicenseConnector, create

# Where the gateway's own e-license API is onboarded (xyb demo; the README).
DIVISION = "430000"
SLUG = "elicense"


def canonical_document() -> str:
    """The canonical e-license API's OpenAPI document (YAML), onboarded with connector elicense."""
    return (files(__package__) / "canonical.yaml").read_text(encoding="utf-8")


__all__ = ["DIVISION", "SLUG", "ElicenseConnector", "canonical_document", "create"]
