"""What a partner's dialect is: how one canonical operation becomes an HTTP call in the partner's
own protocol, and how the partner's answer becomes canonical data (or a refusal).

A dialect is pure: it builds requests and reads answers, and never does I/O, so the connector
(app.connectors.alliance.connector) keeps transport, timeouts, credentials and errors in one
place, and tests run every mapping without a network. Each dialect also writes the partner's own
answer records from canonical data (``encode_*``): what the property tests use to show that
canonical → dialect → canonical is the identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from app.connectors.alliance.canonical import (
    Filing,
    FilingRequest,
    FundAccount,
    Records,
    Transfer,
    TransferRequest,
)

# How the connector answers a partner's refusal (its status and problem type):
#   invalid     422  the partner found a parameter missing or invalid
#   not-found   404  no such filing, transfer, insurance or account (for this caller)
#   conflict    409  a reference reused for another request, or a state that forbids it
#   forbidden   404  the data is another person's (answered as not found: no existence oracle)
#   credential  502  the partner refused the credential the gateway obtained (the gateway's or
#                    the partner's fault, never the caller's); the connector retries once with a
#                    new credential before answering it
#   assertion   502  the partner refused the gateway's signed assertion (key not known there)
#   failed      502  the partner failed (its 5xx, an unknown code)
#   unavailable 503  the partner said it cannot serve now
RefusalKind = Literal[
    "invalid",
    "not-found",
    "conflict",
    "forbidden",
    "credential",
    "assertion",
    "failed",
    "unavailable",
]


@dataclass(frozen=True, slots=True)
class PartnerCall:
    """One HTTP request to the partner, relative to its base URL."""

    method: str
    path: str  # below the base URL, with its query string; every part percent-encoded
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PartnerAnswer:
    """The partner's whole answer (the connector caps its size before a dialect sees it)."""

    status: int
    content_type: str
    body: bytes


class PartnerRefused(Exception):
    """The partner answered, and refused: its own code and message, kept as they were."""

    def __init__(self, kind: RefusalKind, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.kind: RefusalKind = kind
        self.code = code[:32]
        self.message = message[:500]


class BadPartnerAnswer(Exception):
    """An answer that is not the partner's protocol (no envelope, a field missing or of the
    wrong type, a code outside its tables, XML with a DTD or entities): 502, never parsed on."""


M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **values: Any) -> M:
    """The canonical ``model`` from a partner's values; what its validation refuses is the
    partner's answer's fault (:class:`BadPartnerAnswer` naming the field)."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadPartnerAnswer(f"{model.__name__}.{where}: {first['msg']}") from None


def path_segment(value: str) -> str:
    """``value`` as one percent-encoded path segment of a call."""
    # quote leaves "." alone, and a client removes a "." or ".." segment (RFC 3986 5.2.4): the
    # call would reach another operation. Encoded, it stays the partner's (odd) identifier.
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Credential:
    """A partner's credential for one user (outbound single sign-on)."""

    value: str
    expires_in: int  # seconds


@dataclass(frozen=True, slots=True)
class RecordsPage:
    records: Records  # this page's (total: the partner's count of all of them)
    next_page: int | None


class Dialect(Protocol):
    """One partner's protocol. Every ``*_call`` gets the user's ID number (the gateway's verified
    one: partners check it against the credential) and returns the request; every reader gets
    the partner's answer and returns canonical data, or raises :class:`PartnerRefused` or
    :class:`BadPartnerAnswer`."""

    partner: str  # GB/T 2260 province code
    # The fields of a canonical request ("filing": FilingRequest, "transfer": TransferRequest)
    # the partner is not sent (it keeps no such thing): a retry is compared on the others.
    drops: Mapping[str, frozenset[str]]

    # -- outbound single sign-on: the connector adds the gateway's assertion header ---------
    def token_call(self, id_number: str) -> PartnerCall: ...
    def read_credential(self, answer: PartnerAnswer) -> Credential: ...
    def credential_header(self, credential: str) -> tuple[str, str]: ...

    # -- medical-insurance off-site filing ---------------------------------------------------
    def create_filing_call(
        self, id_number: str, reference: str, request: FilingRequest
    ) -> PartnerCall: ...
    def find_filing_call(self, id_number: str, reference: str) -> PartnerCall: ...
    def get_filing_call(self, id_number: str, filing_id: str) -> PartnerCall: ...
    def cancel_filing_call(
        self, id_number: str, filing_id: str, reason: str | None
    ) -> PartnerCall: ...
    def read_filing(self, answer: PartnerAnswer) -> Filing: ...

    # -- social-insurance records: from_month/to_month "yyyy-MM"; page from 1 ----------------
    # A partner that pages is asked page after page (the connector stops at MAX_RECORD_PAGES);
    # one that answers everything at once says there is no next page.
    def records_call(
        self, id_number: str, from_month: str | None, to_month: str | None, page: int
    ) -> PartnerCall: ...
    def read_records(self, answer: PartnerAnswer) -> RecordsPage: ...

    # -- provident fund ----------------------------------------------------------------------
    def account_call(self, id_number: str) -> PartnerCall: ...
    def read_account(self, answer: PartnerAnswer) -> FundAccount: ...
    # account_no: the resident's account at the partner (read first by the connector), for a
    # partner whose transfer request names it (赣服通's GRZH); the others ignore it.
    def create_transfer_call(
        self,
        id_number: str,
        reference: str,
        request: TransferRequest,
        account_no: str | None = None,
    ) -> PartnerCall: ...
    def find_transfer_call(self, id_number: str, reference: str) -> PartnerCall: ...
    def get_transfer_call(self, id_number: str, transfer_id: str) -> PartnerCall: ...
    def read_transfer(self, answer: PartnerAnswer) -> Transfer: ...
