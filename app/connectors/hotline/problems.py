"""The hotline service's own refusals, as problem+json (RFC 9457)."""

from __future__ import annotations

from app.core.errors import register_problem_type

RESIDENT_REQUIRED = register_problem_type(
    "hotline-resident-required",
    403,
    "A resident's own token is required",
    "Tickets and ratings are a resident's own: they need a resident's access token (an agent's"
    " token files for its legal person, to the 政企通 desk), not an application's.",
)
IDEMPOTENCY_KEY_REQUIRED = register_problem_type(
    "hotline-idempotency-key-required",
    400,
    "Idempotency-Key required",
    "Filing a ticket needs an Idempotency-Key header: a retry with the same key returns the same"
    " ticket instead of filing a second one.",
)
IDEMPOTENCY_CONFLICT = register_problem_type(
    "hotline-idempotency-conflict",
    409,
    "Idempotency-Key used for another ticket",
    "This Idempotency-Key already filed a ticket with other content; use a new key for a new"
    " ticket.",
)
TICKET_NOT_FOUND = register_problem_type(
    "hotline-ticket-not-found",
    404,
    "No such ticket of yours",
    "You filed no ticket with this id (another person's is answered the same way).",
)
NOT_RATEABLE = register_problem_type(
    "hotline-not-rateable",
    409,
    "Not open for rating",
    "A ticket is rated once, after it is closed (办结) or visited back (回访); a call once, by"
    " the resident who made it.",
)
CALL_NOT_FOUND = register_problem_type(
    "hotline-call-not-found",
    404,
    "No completed call of yours with this event id",
    "Rate a call by the Xyb-Event-Id of its answer: a call of yours that succeeded and is bound to"
    " a service item. Calls are recorded within seconds of their answer.",
)
REFUSED = register_problem_type(
    "hotline-refused",
    422,
    "The hotline system refused the ticket",
    "The 12345 system found a field missing or invalid; systemCode and systemMessage are its own"
    " words.",
)
SYSTEM_FAILED = register_problem_type(
    "hotline-system-failed",
    502,
    "The hotline system failed",
    "The 12345 system answered with an error of its own (systemCode); retry later.",
    fault="upstream",
)
SYSTEM_UNAVAILABLE = register_problem_type(
    "hotline-system-unavailable",
    503,
    "The hotline system is unavailable",
    "The 12345 system said it cannot serve now; retry later (with the same Idempotency-Key).",
    fault="upstream",
)
SERVICE_MISCONFIGURED = register_problem_type(
    "hotline-service-misconfigured",
    500,
    "The hotline service is misconfigured",
    "The hotline connector runs only inside the gateway, which keeps tickets and ratings in its"
    " database.",
    fault="gateway",
)
