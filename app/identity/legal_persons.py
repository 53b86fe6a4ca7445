"""Legal persons (法人): registration by their legal representative, and agents by invitation.

- Registering consults the market-supervision enterprise register (``enterprise_register``):
  only an enterprise in existence (存续/在业) registers, only its legal representative (the
  caller's account ID number equals the register's, compared in constant time and never logged)
  registers it, and its name and representative are the register's (submitted ones are ignored).
- An agent invites a person by ID number. The invitation is stored by the keyed look-up hash of
  the number, and inviting reads no account: the answer is the same whether the number has an
  account or not, and a person who registers later still finds it. The invited person lists,
  accepts or declines; invitations expire after ``INVITATION_TTL``; an agent revokes a pending
  one. Agents' names are shown to fellow agents only once they accepted.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.identifiers import mask_resident_id, normalise_resident_id, validate_resident_id
from app.identity.accounts import (
    count_account,
    field_error,
    is_agent,
    person_id_number,
    uncount_account,
)
from app.identity.crypto import DataCipher
from app.identity.enterprise_register import EnterpriseRecord
from app.models.identity import Agent, AgentInvitation, LegalPerson, Person

INVITATION_TTL = timedelta(days=7)
MAX_PENDING_INVITATIONS = 50  # per legal person: an agent cannot flood strangers' lists

PENDING, ACCEPTED, DECLINED, REVOKED, EXPIRED = (
    "pending",
    "accepted",
    "declined",
    "revoked",
    "expired",
)


def not_registrable(record: EnterpriseRecord | None) -> ValidationFailed | None:
    """Why the register's answer does not allow registering the enterprise (None: it does)."""
    if record is None:
        return ValidationFailed(
            "The market-supervision enterprise register has no enterprise with this credit"
            " code; check the code on the business licence.",
            errors=[field_error("uscc", "no enterprise with this code in the enterprise register")],
        )
    if not record.active:
        return ValidationFailed(
            f"The enterprise register lists this enterprise as {record.status}: only an"
            " enterprise in existence (存续 or 在业) can be registered.",
            errors=[field_error("uscc", f"the enterprise's status is {record.status}")],
        )
    return None


async def register_legal_person(
    session: AsyncSession, cipher: DataCipher, *, record: EnterpriseRecord | None, caller: Person
) -> tuple[LegalPerson, bool]:
    """The legal person of ``record`` (the register's answer), registered by its legal
    representative; a code the register does not have, or an enterprise not in existence, 422.

    Returns the row and whether it is new. A company registered here already gets its current
    representative as an agent (the register may name a new one); one who is an agent already
    gets 409.
    """
    refused = not_registrable(record)
    if refused is not None:
        raise refused
    assert record is not None
    claimed = person_id_number(cipher, caller).encode("ascii")
    if not hmac.compare_digest(claimed, record.representative_id_number.encode("ascii")):
        raise Forbidden(
            "Only the enterprise's legal representative, as the market-supervision register"
            " names them, registers it here. Ask them to register it and to invite you as an"
            " agent (POST /identity/legal-persons/{id}/invitations)."
        )
    await count_account(session, "legal_persons")  # first: see accounts.count_account
    existing = await session.scalar(select(LegalPerson).where(LegalPerson.uscc == record.uscc))
    if existing is not None:
        await uncount_account(session, "legal_persons")
        if await is_agent(session, person_id=caller.id, legal_person_id=existing.id):
            raise Conflict(
                "This enterprise is registered already and you are its agent.",
                extensions={"legal_person_id": existing.id},
            )
        existing.name, existing.legal_representative = record.name, record.representative
        session.add(Agent(person_id=caller.id, legal_person_id=existing.id))
        await session.flush()
        return existing, False
    legal = LegalPerson(
        name=record.name, uscc=record.uscc, legal_representative=record.representative
    )
    try:
        async with session.begin_nested():
            session.add(legal)
            await session.flush()
    except IntegrityError:
        raise Conflict("This unified social credit code is registered already.") from None
    session.add(Agent(person_id=caller.id, legal_person_id=legal.id))
    await session.flush()
    return legal, True


# --- invitations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationView:
    """An invitation with what its answers show: the company and the inviter's name."""

    invitation: AgentInvitation
    legal_person: LegalPerson
    invited_by: str
    status: str  # the stored status, or "expired" for a pending one past its expiry


def _now() -> datetime:
    return datetime.now(UTC)


def _status(invitation: AgentInvitation, now: datetime) -> str:
    if invitation.status == PENDING and invitation.expires_at <= now:
        return EXPIRED
    return invitation.status


async def _legal_person_of_agent(
    session: AsyncSession, *, legal_person_id: int, person: Person
) -> LegalPerson:
    """The legal person, if ``person`` is its agent; 404 otherwise (strangers learn nothing)."""
    legal = await session.get(LegalPerson, legal_person_id)
    if legal is None or not await is_agent(
        session, person_id=person.id, legal_person_id=legal_person_id
    ):
        raise NotFound(f"You are not an agent of legal person {legal_person_id}.")
    return legal


async def invite(
    session: AsyncSession,
    cipher: DataCipher,
    *,
    legal_person_id: int,
    by: Person,
    id_number: str,
) -> InvitationView:
    """A pending invitation of the person with ``id_number`` (whether or not they have an
    account: no account is read) to become an agent of the legal person ``by`` acts for."""
    legal = await _legal_person_of_agent(session, legal_person_id=legal_person_id, person=by)
    reasons = validate_resident_id(id_number)
    if reasons:
        raise ValidationFailed(
            "The ID number is not valid.", errors=[field_error("id_number", r) for r in reasons]
        )
    number = normalise_resident_id(id_number)
    key = cipher.lookup_hash(number, purpose="id_number")
    now = _now()
    # Whether the number belongs to an agent already: the agents list shows that to every agent,
    # so saying it here reveals nothing new (and about agents only, never about other accounts).
    agent = await session.scalar(
        select(Agent.id)
        .join(Person, Person.id == Agent.person_id)
        .where(Agent.legal_person_id == legal.id, Person.id_number_hash == key)
    )
    if agent is not None:
        raise Conflict("The person with this ID number is an agent of this legal person already.")
    # PostgreSQL: concurrent invitations of one company queue here, so that the duplicate check
    # and the cap below hold (SQLite's write lock orders them already).
    await session.execute(
        select(LegalPerson.id).where(LegalPerson.id == legal.id).with_for_update()
    )
    pending = select(AgentInvitation).where(
        AgentInvitation.legal_person_id == legal.id,
        AgentInvitation.status == PENDING,
        AgentInvitation.expires_at > now,
    )
    open_invitations = list(await session.scalars(pending))
    same = next((i for i in open_invitations if i.id_number_hash == key), None)
    if same is not None:
        raise Conflict(
            f"Invitation {same.id} of this ID number is pending; revoke it to invite again.",
            extensions={"invitation_id": same.id},
        )
    if len(open_invitations) >= MAX_PENDING_INVITATIONS:
        raise Conflict(
            f"This legal person has {len(open_invitations)} pending invitations, the most"
            " allowed; revoke some or wait until they are answered or expire."
        )
    invitation = AgentInvitation(
        legal_person_id=legal.id,
        invited_by=by.id,
        id_number_hash=key,
        id_number_masked=mask_resident_id(number),
        status=PENDING,
        created_at=now,
        expires_at=now + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    return InvitationView(invitation, legal, by.name, PENDING)


_Inviter = aliased(Person)


async def invitations_for(session: AsyncSession, person: Person) -> list[InvitationView]:
    """The pending, unexpired invitations of ``person``'s ID number, oldest first."""
    now = _now()
    rows = await session.execute(
        select(AgentInvitation, LegalPerson, _Inviter.name)
        .join(LegalPerson, LegalPerson.id == AgentInvitation.legal_person_id)
        .join(_Inviter, _Inviter.id == AgentInvitation.invited_by)
        .where(
            AgentInvitation.id_number_hash == person.id_number_hash,
            AgentInvitation.status == PENDING,
            AgentInvitation.expires_at > now,
        )
        .order_by(AgentInvitation.id)
    )
    return [InvitationView(inv, legal, name, PENDING) for inv, legal, name in rows]


async def invitations_of(
    session: AsyncSession, *, legal_person_id: int, by: Person, limit: int
) -> list[InvitationView]:
    """A legal person's invitations, newest first, for its agents only."""
    legal = await _legal_person_of_agent(session, legal_person_id=legal_person_id, person=by)
    now = _now()
    rows = await session.execute(
        select(AgentInvitation, _Inviter.name)
        .join(_Inviter, _Inviter.id == AgentInvitation.invited_by)
        .where(AgentInvitation.legal_person_id == legal.id)
        .order_by(AgentInvitation.id.desc())
        .limit(limit)
    )
    return [InvitationView(inv, legal, name, _status(inv, now)) for inv, name in rows]


async def _view(session: AsyncSession, invitation: AgentInvitation) -> InvitationView:
    legal = await session.get(LegalPerson, invitation.legal_person_id)
    inviter = await session.get(Person, invitation.invited_by)
    # Both exist: foreign keys with ON DELETE CASCADE.
    assert legal is not None
    assert inviter is not None
    return InvitationView(invitation, legal, inviter.name, _status(invitation, _now()))


async def _decide(session: AsyncSession, invitation: AgentInvitation, status: str) -> None:
    """Move a pending invitation to ``status``; of two concurrent decisions exactly one wins."""
    now = _now()
    if _status(invitation, now) != PENDING:
        raise Conflict(
            f"Invitation {invitation.id} is {_status(invitation, now)}; only a pending one"
            " can be answered or revoked.",
            extensions={"status": _status(invitation, now)},
        )
    decided = await session.execute(
        update(AgentInvitation)
        .where(AgentInvitation.id == invitation.id, AgentInvitation.status == PENDING)
        .values(status=status, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Invitation {invitation.id} was answered meanwhile.")
    await session.refresh(invitation)


async def answer_invitation(
    session: AsyncSession, *, invitation_id: int, person: Person, accept: bool
) -> InvitationView:
    """Accept (becoming an agent) or decline an invitation of ``person``'s own ID number."""
    invitation = await session.get(AgentInvitation, invitation_id)
    if invitation is None or not hmac.compare_digest(
        invitation.id_number_hash, person.id_number_hash
    ):
        raise NotFound(f"You have no invitation {invitation_id}.")
    await _decide(session, invitation, ACCEPTED if accept else DECLINED)
    if accept and not await is_agent(
        session, person_id=person.id, legal_person_id=invitation.legal_person_id
    ):
        try:
            async with session.begin_nested():
                session.add(Agent(person_id=person.id, legal_person_id=invitation.legal_person_id))
                await session.flush()
        except IntegrityError:
            pass  # became an agent through another invitation at the same moment
    return await _view(session, invitation)


async def revoke_invitation(
    session: AsyncSession, *, legal_person_id: int, invitation_id: int, by: Person
) -> InvitationView:
    """An agent of the legal person withdraws a pending invitation."""
    await _legal_person_of_agent(session, legal_person_id=legal_person_id, person=by)
    invitation = await session.get(AgentInvitation, invitation_id)
    if invitation is None or invitation.legal_person_id != legal_person_id:
        raise NotFound(f"Legal person {legal_person_id} has no invitation {invitation_id}.")
    await _decide(session, invitation, REVOKED)
    return await _view(session, invitation)


@dataclass(frozen=True)
class AgentView:
    name: str
    id_number_masked: str
    since: datetime
    person_id: int = 0  # not shown: the audit log records whose data the list showed


async def agents_of(session: AsyncSession, *, legal_person_id: int, by: Person) -> list[AgentView]:
    """The agents of a legal person (each of whom accepted or registered it), for its agents."""
    await _legal_person_of_agent(session, legal_person_id=legal_person_id, person=by)
    rows = await session.execute(
        select(Person.name, Person.id_number_masked, Agent.created_at, Person.id)
        .join(Agent, Agent.person_id == Person.id)
        .where(Agent.legal_person_id == legal_person_id)
        .order_by(Agent.id)
    )
    return [AgentView(name, masked, since, pid) for name, masked, since, pid in rows]
