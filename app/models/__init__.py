"""SQLAlchemy models. Importing this package registers every table on ``Base.metadata``."""

from app.models.service import (
    DataClassification,
    GatewayState,
    Operation,
    Service,
    ServiceContract,
    ServiceStatus,
    ServiceVersion,
)

__all__ = [
    "DataClassification",
    "GatewayState",
    "Operation",
    "Service",
    "ServiceContract",
    "ServiceStatus",
    "ServiceVersion",
]
