"""The 12345 system's status callbacks: authenticated, then applied exactly once and in order.

A callback is the system's word that a ticket made one transition (``xh``). It is taken when:

- ``X-Hotline-Signature`` is ``sha256=`` and the hex HMAC-SHA256, under the shared secret
  (``XYB_HOTLINE_CALLBACK_SECRET``), of ``X-Hotline-Timestamp`` + "." + the raw body;
- the timestamp is within ``XYB_HOTLINE_CALLBACK_TOLERANCE`` seconds of the gateway's clock (an
  old message cannot be replayed once the window has passed);
- that exact signature was not accepted before (within the window, it would be a replay).

The sender signs every delivery attempt afresh, so a redelivery of a transition already applied
is not a replay: it is acknowledged as a duplicate and changes nothing (tickets.apply keeps one
row per transition; the status is that of the highest number received, whatever the order of
arrival). A callback that cannot be written (the database is down) is answered 503 with
Retry-After, so the sender keeps it and retries: it is never acknowledged unapplied.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.connectors.hotline.tickets import BadSystemData, apply, transition
from app.core.config import Settings, load_or_create_secret
from app.core.db import take_write_lock
from app.core.errors import GatewayError, register_problem_type
from app.models.hotline import HotlineCallbackReceipt, HotlineTicket

log = logging.getLogger("xyb.services.hotline.callbacks")

SIGNATURE_HEADER = "x-hotline-signature"
TIMESTAMP_HEADER = "x-hotline-timestamp"
EVENT_HEADER = "x-hotline-event"
RETRY_AFTER_S = 5

CALLBACK_UNSIGNED = register_problem_type(
    "hotline-callback-unauthenticated",
    401,
    "Callback not authenticated",
    "A 12345 callback needs X-Hotline-Timestamp (Unix seconds, within the tolerance of the"
    " gateway's clock) and X-Hotline-Signature (sha256= and the hex HMAC-SHA256 of the timestamp,"
    " '.', and the raw body under the shared secret).",
)
CALLBACK_REPLAYED = register_problem_type(
    "hotline-callback-replayed",
    409,
    "Callback replayed",
    "This exact signed callback was accepted before; a redelivery is signed afresh.",
)
CALLBACK_UNKNOWN_TICKET = register_problem_type(
    "hotline-callback-unknown-ticket",
    404,
    "No such ticket filed through the gateway",
    "The callback's wbbh names no ticket the gateway filed, or its gdbh is not that ticket's.",
)
CALLBACK_BAD_BODY = register_problem_type(
    "hotline-callback-bad-body",
    422,
    "Callback body not understood",
    "The callback's body is not one transition of the 12345 protocol (sjid, gdbh, wbbh, xh, zt, sj,"
    " cbdw, sm).",
)
CALLBACK_NOT_APPLIED = register_problem_type(
    "hotline-callback-not-applied",
    503,
    "Callback not applied; retry",
    "The gateway could not record the callback now (its database is unavailable). Nothing was"
    " applied: send it again after Retry-After seconds.",
    fault="gateway",
)


class CallbackUnsigned(GatewayError):
    problem = CALLBACK_UNSIGNED


class CallbackReplayed(GatewayError):
    problem = CALLBACK_REPLAYED


class CallbackUnknownTicket(GatewayError):
    problem = CALLBACK_UNKNOWN_TICKET


class CallbackBadBody(GatewayError):
    problem = CALLBACK_BAD_BODY


class CallbackNotApplied(GatewayError):
    problem = CALLBACK_NOT_APPLIED


@dataclass(frozen=True, slots=True)
class Applied:
    ticket: str
    applied: bool  # a new transition
    duplicate: bool  # this transition was already recorded


def callback_secret(settings: Settings) -> bytes:
    """The shared secret: XYB_HOTLINE_CALLBACK_SECRET, else one generated into the data dir."""
    configured = settings.hotline_callback_secret
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode("utf-8")
    return _generated_secret(settings.data_dir)


@functools.cache
def _generated_secret(data_dir: Path) -> bytes:
    # Read once per process, not from the file on every callback.
    return load_or_create_secret(data_dir, "hotline_callback_secret").encode("utf-8")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def authenticate(
    secret: bytes,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance: int,
) -> str:
    """The verified signature (the replay key), or :class:`CallbackUnsigned`."""
    if signature is None or timestamp is None:
        raise CallbackUnsigned("X-Hotline-Signature and X-Hotline-Timestamp.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise CallbackUnsigned("X-Hotline-Timestamp is Unix seconds.")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        raise CallbackUnsigned("The signature does not match the body.")
    # Checked after the signature: an unsigned message learns nothing of the clock.
    skew = abs(now.timestamp() - int(timestamp))
    if skew > tolerance:
        raise CallbackUnsigned(
            f"The timestamp is {skew:.0f} s from the gateway's clock (at most {tolerance} s).",
        )
    return signature.strip().lower()


def parse(body: bytes) -> tuple[str, str, str, object]:
    """(event id, ticket number, reference, transition entry) of a callback body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any protocol's
        raise CallbackBadBody("The body is not JSON (or nested absurdly deep).") from None
    if not isinstance(data, dict):
        raise CallbackBadBody("The body is not a JSON object.")
    fields = []
    for name in ("sjid", "gdbh", "wbbh"):
        value = data.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= 80 or not value.isprintable():
            raise CallbackBadBody(f"{name} is not a text of 1 to 80 characters.")
        fields.append(value)
    return fields[0], fields[1], fields[2], data


async def receive(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    signature: str,
    event: str,
    number: str,
    reference: str,
    entry: object,
    now: datetime,
) -> Applied:
    """Applies one authenticated callback in one transaction (the ticket's row locked)."""
    try:
        step = transition(entry)
    except BadSystemData as exc:
        raise CallbackBadBody(f"{exc}.") from None
    try:
        async with sessionmaker() as session, session.begin():
            await take_write_lock(session)
            # Signatures older than twice the window can never be replayed: the timestamp check
            # refuses them first.
            await session.execute(
                delete(HotlineCallbackReceipt).where(
                    HotlineCallbackReceipt.received_at
                    < now - timedelta(seconds=2 * settings.hotline_callback_tolerance)
                )
            )
            if await session.get(HotlineCallbackReceipt, signature) is not None:
                raise CallbackReplayed("This signed callback was received.")
            ticket = (
                await session.get(HotlineTicket, reference, with_for_update=True)
                if len(reference) == 32
                else None
            )
            if ticket is None or (ticket.number is not None and ticket.number != number):
                raise CallbackUnknownTicket("No ticket filed through the gateway has this wbbh.")
            if ticket.number is None:
                # The filing's answer was lost; the callback says what the system numbered it.
                ticket.number = number
            if ticket.status == "filing":
                ticket.status = "accepted"
            session.add(HotlineCallbackReceipt(signature=signature, event=event, received_at=now))
            applied = await apply(session, ticket, step)
    except IntegrityError:
        # The same signature or transition at the same moment from a concurrent delivery.
        raise CallbackReplayed("This signed callback was received.") from None
    return Applied(reference, applied, not applied)
