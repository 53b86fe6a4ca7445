"""Response models of the audit queries (they document them in the gateway's OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditRecordOut(BaseModel):
    at: datetime
    writer: str = Field(description="the writing process's chain (one per process start)")
    seq: int = Field(description="the record's place in its writer's chain")
    kind: str = Field(description="call or admin")
    event_id: str | None
    request_id: str | None
    client_id: str | None = Field(
        description="the calling client; for an admin action, the actor's"
    )
    subject: str | None = Field(description="the caller's pairwise subject for the service")
    division: str | None
    service: str | None = Field(description="division/slug")
    operation_id: str | None
    item_code: str | None
    method: str | None
    status: int | None
    outcome: str | None = Field(
        description="a call's success, caller_error, upstream_error or gateway_error; an admin"
        " action's success or failure"
    )
    latency_us: int | None
    request_digest: str | None = Field(description="SHA-256 (hex) of the request as received")
    response_digest: str | None = Field(description="SHA-256 (hex) of the body sent back")
    actor: str | None = Field(description="client id, operator username or admin-token")
    action: str | None = Field(description="e.g. service.replace, grant.give, operator.sign-in")
    object: str | None = Field(description="what the action changed, e.g. client:cli_…")
    summary: Any = Field(description="before and after, counts, the breaks a force overrode")
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    records: list[AuditRecordOut] = Field(description="newest first")
    limit: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; None: the last")
    divisions: list[str] | None = Field(
        description="a division admin's reach (records of these divisions only); None: all"
    )


class ReadClientOut(BaseModel):
    id: str
    name: str | None = Field(description="the client application's name")


class AccessLogEntryOut(BaseModel):
    at: datetime
    client: ReadClientOut | None = Field(description="the application that read the data")
    service: str | None = Field(description="the service (division/slug) it was read through")
    purpose: str = Field(description="why: the client's or the service's declared purpose")
    kind: str = Field(description="identity-lookup, gateway-call or license-read")


class AccessLogOut(BaseModel):
    reads: list[AccessLogEntryOut] = Field(description="newest first")
    limit: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; None: the last")


class PersonalReadOut(AccessLogEntryOut):
    person_ref: str = Field(
        description="a pseudonym of the resident (the same for the same person), not their id"
    )
    id_number_masked: str | None = Field(description="the resident's ID number, masked")
    request_id: str | None


class PersonalReadsOut(BaseModel):
    reads: list[PersonalReadOut] = Field(description="newest first")
    limit: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; None: the last")
