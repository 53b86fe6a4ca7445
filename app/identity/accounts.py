"""Accounts: natural persons, who acts for which legal person, and the exact account counts
(legal persons and their agents by invitation: ``app.identity.legal_persons``).

ID numbers and phones never reach the database, the logs or a response in clear: they are stored
encrypted (AES-GCM) with keyed hashes (HMAC) for look-up and masked forms for display.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, ValidationFailed
from app.core.identifiers import (
    mask_phone,
    mask_resident_id,
    normalise_resident_id,
    validate_resident_id,
)
from app.identity.crypto import DataCipher
from app.identity.passwords import hash_password
from app.models.identity import AccountCount, Agent, LegalPerson, Person, RefreshToken

PHONE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 128
MAX_NAME = 100  # persons.name is VARCHAR(100)
ID_CONTEXT = "person.id_number"
PHONE_CONTEXT = "person.phone"

# Assurance levels carried by person tokens (acr).
ASSURANCE_PASSWORD = 1  # registered here with a checked ID number and a password
ASSURANCE_PARTNER = 2  # arrived through a partner app that verified the person's identity
# Verified in person: a clerk at a service counter (政务服务窗口) saw the ID card and the person.
ASSURANCE_IN_PERSON = 2


class InPersonCheckFailed(ValueError):
    """An in-person verification that cannot be recorded, and why (never the account's data)."""


# A generated password is read out at the counter: no look-alike characters (0/o, 1/l/i), four
# groups of four (16 characters of 31 symbols: about 79 bits), dashes between them.
_SPOKEN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generated_password() -> str:
    """A random password a clerk can hand over, e.g. ``k7mq-3xzp-a9tr-hw2e`` (19 characters)."""
    return "-".join("".join(secrets.choice(_SPOKEN_ALPHABET) for _ in range(4)) for _ in range(4))


@dataclass(frozen=True)
class InPersonVerified:
    """What a counter verification did. ``password`` is the account's new password, to be told
    once to the person at the counter and never stored or logged; ``renamed``: the card's name
    replaced another one; ``sessions_ended``: refresh-token families revoked; ``phone_changed``:
    the phone given at the counter replaced the account's."""

    person: Person
    password: str = field(repr=False)
    renamed: bool
    sessions_ended: int = 0
    phone_changed: bool = False


async def verify_in_person(
    session: AsyncSession,
    cipher: DataCipher,
    *,
    id_number: str,
    name: str,
    phone: str | None = None,
    new_password: str | None = None,
) -> InPersonVerified:
    """Bind the account of ``id_number`` to the person a clerk saw at a service counter with
    their ID card, and raise it to assurance 2.

    The ID card is authoritative. Registration checks only that an ID number is well formed, so
    whoever registered the number first may not be its holder: they may have typed the holder's
    name (a squatter waiting for the holder's verification to raise *their* password to
    assurance 2) or a wrong one (locking the holder out). So the verification does not trust
    anything the account holds but the number:

    - the account's name becomes the card's (NFC, stripped; checked as registration checks it);
    - with ``phone``, the account's phone becomes it (refused when another account holds it);
    - the password is replaced: ``new_password`` (registration's rules) or a generated one,
      returned for the clerk to hand over;
    - every live refresh-token family of the person is revoked (with its change-feed event, so
      the access tokens of those families stop on every instance as the feed reaches it), so
      whoever held the account before is signed out. Access tokens issued without a refresh
      token live out their lifetime (``access_token_ttl``, 15 minutes by default) and carry the
      assurance they were issued with; new tokens carry assurance 2.

    An account that does not exist is refused: the person registers first. Any refusal
    (``InPersonCheckFailed``) changes nothing; its message never quotes the account's data.
    """
    from app.identity.oauth import revoke_family  # oauth imports this module

    number = normalise_resident_id(id_number)
    problems = validate_resident_id(number)
    if problems:
        raise InPersonCheckFailed(f"The ID number is not valid: {'; '.join(problems)}.")
    card_name = unicodedata.normalize("NFC", name.strip())
    if (reason := _name_problem(card_name, MAX_NAME, "the name is empty")) is not None:
        raise InPersonCheckFailed(f"The name is not valid: {reason}.")
    new_phone = phone.strip() if phone is not None else None
    if new_phone is not None and not PHONE.fullmatch(new_phone):
        raise InPersonCheckFailed(
            "The phone is not valid: a mainland mobile number has 11 digits and starts with 1."
        )
    if new_password is None:
        password = generated_password()
    else:
        password = new_password
        reason = _password_problem(password, phone=new_phone, id_number=number)
        if reason is not None:
            raise InPersonCheckFailed(f"The new password is not valid: {reason}.")
    # argon2 takes tens of milliseconds: in a worker thread.
    password_hash = await asyncio.to_thread(hash_password, password)

    person = await session.scalar(
        select(Person).where(
            Person.id_number_hash == cipher.lookup_hash(number, purpose="id_number")
        )
    )
    if person is None:
        raise InPersonCheckFailed("No account has this ID number: the person registers first.")
    if person.status != "active":
        raise InPersonCheckFailed("This account is disabled.")
    if (
        new_phone is None
        and person.phone_hash is not None
        and cipher.lookup_hash(password.strip(), purpose="phone") == person.phone_hash
    ):
        raise InPersonCheckFailed(
            "The new password is not valid: must not be the phone number or the ID number."
        )
    phone_hash = cipher.lookup_hash(new_phone, purpose="phone") if new_phone else None
    if phone_hash is not None:
        holder = await session.scalar(select(Person.id).where(Person.phone_hash == phone_hash))
        if holder is not None and holder != person.id:
            raise InPersonCheckFailed(
                "This phone number belongs to another account: nothing was changed."
            )
    phone_changed = phone_hash is not None and person.phone_hash != phone_hash
    renamed = unicodedata.normalize("NFC", person.name) != card_name
    try:
        # The changes in a savepoint: a phone taken meanwhile by another account (the unique
        # index) undoes them alone.
        async with session.begin_nested():
            if phone_changed and new_phone is not None:
                person.phone_enc = cipher.encrypt(new_phone, context=PHONE_CONTEXT)
                person.phone_hash = phone_hash
                person.phone_masked = mask_phone(new_phone)
            person.name = card_name
            person.password_hash = password_hash
            person.assurance = max(person.assurance, ASSURANCE_IN_PERSON)
            await session.flush()
    except IntegrityError:
        raise InPersonCheckFailed(
            "This phone number belongs to another account: nothing was changed."
        ) from None
    families = (
        await session.scalars(
            select(RefreshToken.family)
            .where(
                RefreshToken.person_id == person.id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > datetime.now(UTC),
            )
            .distinct()
        )
    ).all()
    for family in sorted(families):
        await revoke_family(session, family)
    return InPersonVerified(person, password, renamed, len(families), phone_changed)


@dataclass(frozen=True)
class NewPerson:
    name: str
    id_number: str
    phone: str
    password: str


def unprintable(text: str) -> str | None:
    """Why ``text`` cannot be a name: a control, format, private-use or unassigned character,
    a lone surrogate or a line/paragraph separator (PostgreSQL refuses NUL outright; the rest
    is junk or spoofing in a displayed name). None when it is fine."""
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("C") or category in ("Zl", "Zp"):
            return f"contains the character U+{ord(char):04X}, which a name cannot contain"
    return None


def _name_problem(value: str, limit: int, empty: str) -> str | None:
    name = value.strip()
    if not name:
        return empty
    if len(name) > limit:
        return f"at most {limit} characters"
    return unprintable(name)


def _encodable(text: str) -> bool:
    """Whether ``text`` is UTF-8 encodable (JSON can carry lone surrogates; hashes cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_error(field: str, reason: str) -> dict[str, str]:
    # A reason may quote the caller's characters ("check digit should be 7, not ?"): a lone
    # surrogate among them cannot be encoded in the answer, so it is shown escaped.
    detail = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    return {"pointer": f"/body/{field}", "detail": detail}


def check_new_person(data: NewPerson) -> list[dict[str, str]]:
    """Every problem with a registration, each at its field."""
    errors: list[dict[str, str]] = []
    if (reason := _name_problem(data.name, MAX_NAME, "the name is empty")) is not None:
        errors.append(field_error("name", reason))
    errors += [field_error("id_number", r) for r in validate_resident_id(data.id_number)]
    if not PHONE.fullmatch(data.phone.strip()):
        errors.append(
            field_error("phone", "a mainland mobile number has 11 digits and starts with 1")
        )
    reason = _password_problem(
        data.password, phone=data.phone.strip(), id_number=normalise_resident_id(data.id_number)
    )
    if reason is not None:
        errors.append(field_error("password", reason))
    return errors


def _password_problem(password: str, *, phone: str | None, id_number: str) -> str | None:
    """Why ``password`` cannot be an account's password; None when it is fine."""
    if not _encodable(password):
        return "contains characters that are not Unicode text"
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    if password.strip() in (phone, id_number):
        return "must not be the phone number or the ID number"
    return None


async def count_account(session: AsyncSession, kind: str) -> None:
    """Count one new account of ``kind``, in the inserting transaction.

    A rollback takes the increment back with the row. Callers count *before* they check for
    duplicates and insert: the counter row's lock (PostgreSQL) or the database's write lock
    (SQLite) then orders concurrent registrations, so the second of two registrations of one
    number sees the first one's committed row and answers 409 (and SQLite never has to upgrade
    a read transaction that another writer has overtaken, which fails with "database is
    locked" instead of waiting).
    """
    await session.execute(
        update(AccountCount).where(AccountCount.kind == kind).values(n=AccountCount.n + 1)
    )


async def lock_for_write(session: AsyncSession) -> None:
    """On SQLite, take the database's write lock now, as the transaction's first statement.

    SQLite (WAL) cannot turn a read transaction into a write transaction once another
    connection has committed since the read began: it fails at once with "database is locked"
    (SQLITE_BUSY_SNAPSHOT) rather than waiting. A route that reads and then writes calls this
    first, so that concurrent requests wait their turn (busy_timeout) instead. PostgreSQL needs
    nothing: its row locks and unique indexes order writers.
    """
    if session.get_bind().dialect.name == "sqlite":
        # An UPDATE that matches no row still begins a write transaction.
        await session.execute(
            update(AccountCount).where(AccountCount.kind == "").values(n=AccountCount.n)
        )


async def account_totals(session: AsyncSession) -> dict[str, int]:
    """Accounts by kind, read from the counters (no COUNT(*) over millions of rows)."""
    rows = await session.execute(select(AccountCount.kind, AccountCount.n))
    return {kind: int(n) for kind, n in rows}


def _person_row(
    cipher: DataCipher,
    *,
    name: str,
    id_number: str,
    phone: str | None,
    password_hash: str | None,
    assurance: int,
    source: str,
) -> Person:
    return Person(
        name=name.strip(),
        id_number_enc=cipher.encrypt(id_number, context=ID_CONTEXT),
        id_number_hash=cipher.lookup_hash(id_number, purpose="id_number"),
        id_number_masked=mask_resident_id(id_number),
        phone_enc=cipher.encrypt(phone, context=PHONE_CONTEXT) if phone else None,
        phone_hash=cipher.lookup_hash(phone, purpose="phone") if phone else None,
        phone_masked=mask_phone(phone) if phone else None,
        password_hash=password_hash,
        assurance=assurance,
        source=source,
        status="active",
    )


async def register_person(session: AsyncSession, cipher: DataCipher, data: NewPerson) -> Person:
    """A new account; 422 listing every bad field, 409 for a second account of a number."""
    errors = check_new_person(data)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} field{'s' if len(errors) != 1 else ''} of the registration are not"
            " valid.",
            errors=errors,
        )
    id_number = normalise_resident_id(data.id_number)
    phone = data.phone.strip()
    id_hash = cipher.lookup_hash(id_number, purpose="id_number")
    phone_hash = cipher.lookup_hash(phone, purpose="phone")
    # argon2 takes tens of milliseconds: in a worker thread, and before any lock is taken.
    password_hash = await asyncio.to_thread(hash_password, data.password)
    await count_account(session, "persons")  # first: see count_account
    if await session.scalar(select(Person.id).where(Person.id_number_hash == id_hash)):
        raise Conflict("An account for this ID number exists already; log in instead.")
    if await session.scalar(select(Person.id).where(Person.phone_hash == phone_hash)):
        raise Conflict("This phone number belongs to another account.")
    person = _person_row(
        cipher,
        name=data.name,
        id_number=id_number,
        phone=phone,
        password_hash=password_hash,
        assurance=ASSURANCE_PASSWORD,
        source="registered",
    )
    try:
        async with session.begin_nested():
            session.add(person)
            await session.flush()
    except IntegrityError:
        # Two registrations of one number raced; the unique index chose the first.
        raise Conflict("An account for this ID number or phone exists already.") from None
    return person


async def person_for_partner(
    session: AsyncSession, cipher: DataCipher, *, id_number: str, name: str, province: str
) -> tuple[Person, bool]:
    """The account of a resident arriving from a partner app, created on first visit."""
    id_number = normalise_resident_id(id_number)
    id_hash = cipher.lookup_hash(id_number, purpose="id_number")
    existing = await session.scalar(select(Person).where(Person.id_number_hash == id_hash))
    if existing is not None:
        return existing, False
    name = (name or "").strip()[:MAX_NAME]
    if unprintable(name) is not None:
        name = "".join(c for c in name if unprintable(c) is None)
    # A first visit: count first (see count_account), then look again, since a concurrent first
    # visit of the same resident may have committed while this one waited for the counter.
    await count_account(session, "persons")
    existing = await session.scalar(select(Person).where(Person.id_number_hash == id_hash))
    if existing is not None:
        await uncount_account(session, "persons")
        return existing, False
    person = _person_row(
        cipher,
        name=name,
        id_number=id_number,
        phone=None,
        password_hash=None,
        assurance=ASSURANCE_PARTNER,
        source=f"partner:{province}",
    )
    try:
        async with session.begin_nested():
            session.add(person)
            await session.flush()
    except IntegrityError:
        # The same resident's first visit through two instances at once: use the winner's row.
        winner = await session.scalar(select(Person).where(Person.id_number_hash == id_hash))
        if winner is None:
            raise
        await uncount_account(session, "persons")
        return winner, False
    return person, True


async def uncount_account(session: AsyncSession, kind: str) -> None:
    """Take back a count whose insert did not happen (the transaction goes on)."""
    await session.execute(
        update(AccountCount).where(AccountCount.kind == kind).values(n=AccountCount.n - 1)
    )


async def find_person_for_login(
    session: AsyncSession, cipher: DataCipher, username: str
) -> tuple[Person | None, str]:
    """The person behind an ID number or a phone number, and the throttle key of the account.

    An existing account has one key whichever name it is addressed by (its phone and its ID
    number must not each get their own free failures); an unknown name is keyed by its hash.
    """
    name = username.strip()
    if PHONE.fullmatch(name):
        key = cipher.lookup_hash(name, purpose="phone")
        person = await session.scalar(select(Person).where(Person.phone_hash == key))
        return person, f"person:{person.id}" if person is not None else f"phone:{key}"
    key = cipher.lookup_hash(normalise_resident_id(name), purpose="id_number")
    person = await session.scalar(select(Person).where(Person.id_number_hash == key))
    return person, f"person:{person.id}" if person is not None else f"id:{key}"


def person_id_number(cipher: DataCipher, person: Person) -> str:
    return cipher.decrypt(person.id_number_enc, context=ID_CONTEXT)


async def is_agent(session: AsyncSession, *, person_id: int, legal_person_id: int) -> bool:
    found = await session.scalar(
        select(Agent.id).where(
            Agent.person_id == person_id, Agent.legal_person_id == legal_person_id
        )
    )
    return found is not None


async def agencies(session: AsyncSession, person_id: int) -> list[LegalPerson]:
    """The legal persons a person may act for."""
    rows = await session.scalars(
        select(LegalPerson)
        .join(Agent, Agent.legal_person_id == LegalPerson.id)
        .where(Agent.person_id == person_id)
        .order_by(LegalPerson.id)
    )
    return list(rows)


def masked_view(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "assurance": person.assurance,
        "source": person.source,
        "status": person.status,
        "created_at": person.created_at.astimezone(UTC).isoformat()
        if isinstance(person.created_at, datetime)
        else None,
    }
