"""The alliance service's own answers to refusals, as problem+json (RFC 9457).

A partner's refusal keeps the partner's own code and message beside the gateway's problem type
(``partnerCode``, ``partnerMessage``), so a caller, an operator and the partner's own support
all read the same fact.
"""

from __future__ import annotations

from app.core.errors import register_problem_type

PARTNER_REFUSED = register_problem_type(
    "alliance-refused",
    422,
    "The partner refused the request",
    "The partner app found a parameter missing or invalid; partnerCode and partnerMessage are its"
    " own words.",
)
PARTNER_NOT_FOUND = register_problem_type(
    "alliance-not-found",
    404,
    "Not found at the partner",
    "The partner holds no such filing, transfer, insurance record or fund account for the caller"
    " (another person's is answered the same way).",
)
PARTNER_CONFLICT = register_problem_type(
    "alliance-conflict",
    409,
    "The partner's state does not allow it",
    "The request conflicts with what the partner holds: the Idempotency-Key was used for another"
    " request, the filing is already cancelled, a filing or transfer is already in progress.",
)
PARTNER_FAILED = register_problem_type(
    "alliance-partner-failed",
    502,
    "The partner failed",
    "The partner app answered with an error of its own (partnerCode); retry later.",
    fault="upstream",
)
PARTNER_UNAVAILABLE = register_problem_type(
    "alliance-partner-unavailable",
    503,
    "The partner is unavailable",
    "The partner app said it cannot serve now; retry later.",
    fault="upstream",
)
SIGN_ON_FAILED = register_problem_type(
    "alliance-sign-on-failed",
    502,
    "Single sign-on at the partner failed",
    "The partner did not accept the gateway's signed assertion or the credential it issued for"
    " the caller: a configuration fault between the gateway and the partner, not the caller's.",
)
RESIDENT_ONLY = register_problem_type(
    "alliance-resident-required",
    403,
    "A resident's own token is required",
    "Alliance operations act for one resident: they need a resident's access token (the password"
    " or token-exchange grant), not an application's and not one acting for a legal person.",
)
ASSURANCE_TOO_LOW = register_problem_type(
    "alliance-assurance-too-low",
    403,
    "A verified resident is required",
    "The partner app acts on the ID number the gateway vouches for, so the resident must have been"
    " verified (assurance 2: by a partner app or in person at a service counter).",
)
IDEMPOTENCY_KEY_REQUIRED = register_problem_type(
    "idempotency-key-required",
    400,
    "Idempotency-Key required",
    "A write to a partner carries an Idempotency-Key header (1 to 128 of A-Z a-z 0-9 _ . : -):"
    " a retry with the same key never files twice.",
)
MISCONFIGURED = register_problem_type(
    "alliance-misconfigured",
    503,
    "The alliance service is misconfigured",
    "An alliance service must be onboarded at a partner's division (440000, 310000, 360000) and"
    " classified personal or sensitive (the partner acts on the verified ID number).",
    fault="gateway",
)
