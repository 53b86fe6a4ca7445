"""The e-license service's own refusals, as problem+json answers (RFC 9457).

The connector answers these itself, as the upstream of ``430000/elicense``: the gateway passes
them through like any upstream's answer, so they are counted and audited with the call.
"""

from __future__ import annotations

from app.connectors.answers import Refusal, json_answer, problem_answer
from app.core.errors import register_problem_type

__all__ = ["Refusal", "json_answer", "problem_answer"]

CONSENT_REQUIRED = register_problem_type(
    "consent-required",
    403,
    "The holder's consent is required",
    "Reading someone else's license needs the holder's consent to this client, for the license's"
    " type and the purpose stated in Xyb-Purpose, until a date that has not passed.",
)
ROLE_REQUIRED = register_problem_type(
    "role-required",
    403,
    "A role is required",
    "This e-license operation needs a client token of a role: verifier (checking presentations)"
    " or department (issuing and revoking licenses).",
)
RESIDENT_REQUIRED = register_problem_type(
    "resident-required",
    403,
    "A resident's token is required",
    "This e-license operation acts for a resident: it needs a resident's access token (the"
    " password or token-exchange grant), not an application's.",
)
STEP_UP = register_problem_type(
    "assurance-too-low",
    403,
    "A verified resident is required",
    "Licenses are shown and consented to only by a resident whose identity was verified (assurance"
    " 2: by a partner app or in person at a service counter, `xyb persons verify`); sign in again"
    " through a stronger method.",
)
BAD_LICENSE_ID = register_problem_type(
    "bad-license-id",
    422,
    "Not a valid e-license identifier",
    "E-license identifiers follow GB/T 36904-2018: 1.2.156.3005.2.<type code>.<issuer code>."
    "<license number>.<version>.<check character> (ISO/IEC 7064 MOD 37,36); the detail names the"
    " segment that is wrong.",
)
LICENSE_REFUSED = register_problem_type(
    "license-refused",
    422,
    "The registry refused the request",
    "The e-license registry could not act on the request as sent (a field it checks, an unknown"
    " license type); the detail gives its reason.",
)
LICENSE_NOT_FOUND = register_problem_type(
    "license-not-found",
    404,
    "No such license",
    "The registry holds no license with this identifier, or none the caller holds.",
)
PRESENTATION_NOT_FOUND = register_problem_type(
    "presentation-not-found",
    404,
    "No such presentation",
    "The caller has no presentation with this id.",
)
CONSENT_NOT_FOUND = register_problem_type(
    "consent-not-found",
    404,
    "No such consent",
    "The caller (or the legal person it acts for) has no consent with this id.",
)
LICENSE_CONFLICT = register_problem_type(
    "license-conflict",
    409,
    "The license's state does not allow it",
    "The license already exists, is already revoked, or is not valid (revoked or expired) and"
    " cannot be presented.",
)
PRESENTATION_GONE = register_problem_type(
    "presentation-expired",
    410,
    "Presentation expired",
    "The presentation's time is over; the holder makes a new one.",
)
REGISTRY_FAILED = register_problem_type(
    "registry-failed",
    502,
    "The e-license registry failed",
    "The e-license registry answered with an error of its own (its resultCode is given); the"
    " request may be retried later.",
)
REGISTRY_UNAVAILABLE = register_problem_type(
    "registry-unavailable",
    503,
    "The e-license registry is unavailable",
    "The e-license registry answered that it cannot serve now (HTTP 503, its resultCode is"
    " given); retry later.",
)
SERVICE_MISCONFIGURED = register_problem_type(
    "elicense-misconfigured",
    503,
    "The e-license service is misconfigured",
    "The e-license service cannot decide who holds what: it must be classified personal or"
    " sensitive (so the gateway may use the verified ID number), and run inside the gateway.",
    fault="gateway",
)
