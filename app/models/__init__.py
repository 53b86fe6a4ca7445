"""SQLAlchemy models. Importing this package registers every table on ``Base.metadata``."""

from app.models.audit import AuditCheckpoint, AuditKey, AuditRecord, PersonalDataRead
from app.models.catalog import Item, Synonym, TargetSnapshot
from app.models.counting import LATENCY_BOUNDS_MS, AccessCount, CounterBatch, Operator
from app.models.elicense import LicenseConsent, LicensePresentation
from app.models.hotline import (
    HotlineCallbackReceipt,
    HotlineFollowUp,
    HotlineRating,
    HotlineTicket,
    HotlineTicketEvent,
)
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
    "LATENCY_BOUNDS_MS",
    "AccessCount",
    "AccountCount",
    "Agent",
    "AuditCheckpoint",
    "AuditKey",
    "AuditRecord",
    "Client",
    "CounterBatch",
    "DataClassification",
    "GatewayState",
    "Grant",
    "HotlineCallbackReceipt",
    "HotlineFollowUp",
    "HotlineRating",
    "HotlineTicket",
    "HotlineTicketEvent",
    "IdentityEvent",
    "Item",
    "LegalPerson",
    "LicenseConsent",
    "LicensePresentation",
    "Operation",
    "Operator",
    "Person",
    "PersonalDataRead",
    "RefreshToken",
    "Service",
    "ServiceContract",
    "ServiceStatus",
    "ServiceVersion",
    "SigningKeyRow",
    "Synonym",
    "TargetSnapshot",
]
