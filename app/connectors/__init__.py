"""Connectors: how the gateway talks to each kind of upstream."""

from app.connectors.base import (
    CircuitOpen,
    Connector,
    ConnectorConfig,
    ConnectorError,
    ConnectorFactory,
    UpstreamBadResponse,
    UpstreamBusy,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.connectors.registry import ConnectorRegistry, UnknownConnector

__all__ = [
    "CircuitOpen",
    "Connector",
    "ConnectorConfig",
    "ConnectorError",
    "ConnectorFactory",
    "ConnectorRegistry",
    "UnknownConnector",
    "UpstreamBadResponse",
    "UpstreamBusy",
    "UpstreamRequest",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]
