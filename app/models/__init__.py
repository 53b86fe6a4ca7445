"""SQLAlchemy models. Importing this package registers every table on ``Base.metadata``."""

from app.models.identity import (
    AccountCount,
    Agent,
    Client,
    Grant,
    IdentityEvent,
    LegalPerson,
    Person,
    RefreshToken,
    SigningKeyRow,
)
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
    "AccountCount",
    "Agent",
    "Client",
    "DataClassification",
    "GatewayState",
    "Grant",
    "IdentityEvent",
    "LegalPerson",
    "Operation",
    "Person",
    "RefreshToken",
    "Service",
    "ServiceContract",
    "ServiceStatus",
    "ServiceVersion",
    "SigningKeyRow",
]
