"""Connector discovery through the entry-point group ``xyb.connectors``.

Built-in connectors register through the same entry points as third-party ones (see
``pyproject.toml``), so there is one way in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points

from app.connectors.base import ConnectorFactory

GROUP = "xyb.connectors"
log = logging.getLogger("xyb.connectors")


class UnknownConnector(LookupError):
    """No connector with this name is installed."""


class ConnectorRegistry:
    """Connector factories by name."""

    def __init__(self, factories: Mapping[str, ConnectorFactory]) -> None:
        self._factories = dict(factories)

    @classmethod
    def discover(cls) -> ConnectorRegistry:
        """Load every factory registered under ``xyb.connectors``; broken ones are logged."""
        factories: dict[str, ConnectorFactory] = {}
        for ep in entry_points(group=GROUP):
            try:
                factories[ep.name] = ep.load()
            except Exception:
                log.exception("connector entry point failed to load", extra={"connector": ep.name})
        return cls(factories)

    @property
    def names(self) -> list[str]:
        return sorted(self._factories)

    def factory(self, name: str) -> ConnectorFactory:
        try:
            return self._factories[name]
        except KeyError:
            raise UnknownConnector(
                f"no connector {name!r} is installed (installed: {', '.join(self.names) or 'none'})"
            ) from None
