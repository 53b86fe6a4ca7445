"""The ``hotline`` connector: the canonical 12345 API (canonical.yaml) over the hotline system's
own protocol (system.py), with what the gateway keeps itself (app/models/hotline.py).

- Filing: a resident's own token; an agent's token files for its legal person, to the 政企通 desk
  with a raised priority. The caller's ``Idempotency-Key`` makes one ticket: the gateway's row is
  written first (unique per resident and key) and its id is the system's reference (``wbbh``),
  so a retry after a lost answer, here or at the system, files nothing twice.
- The deadline is the category's working days on the official calendar (app/core/workdays.py),
  fixed at filing; the card is computed when the ticket is read.
- A ticket's history comes from the system's signed callbacks (app/services/hotline/callbacks.py)
  and from its answers, applied once per transition (tickets.py). A resident sees only their own
  tickets: another's is answered as one that does not exist.
- 好差评: a closed ticket is rated once (the rating goes to the system, which closes the loop with
  评价); a completed call is rated once by the resident who made it, by the ``Xyb-Event-Id`` of
  its answer (looked up in the audit log, matched by the pairwise subject the call carried). The
  bottom two levels open a follow-up owned by the rated item's division, with its own deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.answers import Refusal, json_answer, problem_answer
from app.connectors.base import (
    CallerFacts,
    ConnectorConfig,
    ConnectorHost,
    UpstreamBadResponse,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
)
from app.connectors.hotline import problems, words
from app.connectors.hotline import system as sys_
from app.connectors.hotline.text import plain
from app.connectors.hotline.tickets import (
    BadSystemData,
    Transition,
    apply,
    rating_view,
    ticket_view,
    transition,
)
from app.core.db import take_write_lock
from app.core.divisions import division as known_division
from app.core.errors import BAD_REQUEST, NOT_FOUND, VALIDATION_FAILED
from app.models.audit import AuditRecord
from app.models.catalog import Item
from app.models.hotline import HotlineFollowUp, HotlineRating, HotlineTicket, HotlineTicketEvent
from app.models.identity import LegalPerson
from app.services.hotline.deadlines import follow_up_deadline, ticket_deadline

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_CONTENT = 2000
MAX_COMMENT = 500
MAX_PAGE = 100
# 政企通: a legal person's complaint or report about the business environment is urgent, any
# other of its tickets high; residents' tickets are normal.
_ENTERPRISE_URGENT = frozenset({"complaint", "report"})

Handler = Callable[[UpstreamRequest, list[str]], Awaitable[UpstreamResponse]]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class HotlineConnector:
    """Answers the canonical hotline API; one instance per onboarded hotline service."""

    kind = "hotline"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.host: ConnectorHost | None = config.host
        self.system = sys_.HotlineSystem(config)
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "tickets"): self.file_ticket,
            ("GET", "tickets"): self.list_tickets,
            ("GET", "tickets/*"): self.get_ticket,
            ("POST", "tickets/*/rating"): self.rate_ticket,
            ("POST", "ratings"): self.rate_call,
            ("GET", "ratings"): self.list_ratings,
        }

    async def aclose(self) -> None:
        await self.config.transport.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    def _host(self) -> ConnectorHost:
        if self.host is None:
            raise Refusal(
                problems.SERVICE_MISCONFIGURED,
                "The hotline connector runs only inside the gateway (it keeps tickets and ratings"
                " in the gateway's database).",
            )
        return self.host

    def _now(self) -> datetime:
        return self._host().clock()

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        method = "GET" if request.method == "HEAD" else request.method
        shape = "/".join("*" if i % 2 else p for i, p in enumerate(parts))
        handler = self._routes.get((method, shape))
        params = [p for i, p in enumerate(parts) if i % 2]
        try:
            if handler is None:
                raise Refusal(NOT_FOUND, "The hotline service has no such operation.")
            async with asyncio.timeout(request.timeout):
                return await handler(request, params)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The hotline service {self.config.service} did not answer within"
                f" {request.timeout:g} s."
            ) from None
        except BadSystemData as exc:
            raise UpstreamBadResponse(
                f"The 12345 system of {self.config.service} sent a ticket outside its protocol:"
                f" {exc}."
            ) from None
        except Refusal as refusal:
            return problem_answer(refusal, request.request_id or None)

    def _headers(self, request: UpstreamRequest) -> list[tuple[str, str]]:
        own = list(request.extra_headers)
        own.append(("x-request-id", request.request_id))
        return own

    async def _system(
        self, request: UpstreamRequest, path: str, body: dict[str, Any]
    ) -> sys_.SystemAnswer:
        answer = await self.system.call(
            path, body, headers=self._headers(request), timeout=request.timeout
        )
        if answer.status != 200 or answer.code.startswith("9"):
            raise Refusal(
                problems.SYSTEM_UNAVAILABLE if answer.status == 503 else problems.SYSTEM_FAILED,
                f"The 12345 system answered HTTP {answer.status} (code {answer.code}).",
                {"systemCode": answer.code},
            )
        return answer

    @staticmethod
    def _said(answer: sys_.SystemAnswer) -> str:
        # The system's words may quote what was sent: only printable characters pass.
        return "".join(c if c.isprintable() else "?" for c in answer.message)

    @staticmethod
    def _json(request: UpstreamRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise Refusal(BAD_REQUEST, "The body is not JSON.") from None
        if not isinstance(body, dict):
            raise Refusal(BAD_REQUEST, "The body is not a JSON object.")
        return body

    @staticmethod
    def _invalid(pointer: str, detail: str) -> Refusal:
        return Refusal(
            VALIDATION_FAILED, detail, {"errors": [{"pointer": pointer, "detail": detail}]}
        )

    @staticmethod
    def _header(request: UpstreamRequest, name: str) -> str | None:
        for key, value in request.headers:
            if key.lower() == name:
                return value
        return None

    @staticmethod
    def _resident(request: UpstreamRequest) -> CallerFacts:
        facts = request.caller
        if facts is None:
            raise Refusal(problems.SERVICE_MISCONFIGURED, "The gateway did not say who is calling.")
        if facts.person_id is None:
            raise Refusal(
                problems.RESIDENT_REQUIRED,
                "Tickets and ratings are a resident's own: use a resident's access token.",
            )
        return facts

    # -- tickets ----------------------------------------------------------------------------

    def _filing(self, body: dict[str, Any]) -> dict[str, Any]:
        """The caller's filing, checked (the gateway validated it against the document; checked
        again so a looser document cannot make the connector store nonsense)."""
        channel = body.get("channel", "app")
        if channel not in words.CHANNELS:
            raise self._invalid("/body/channel", f"channel is one of {', '.join(words.CHANNELS)}")
        category = body.get("category")
        if category not in words.CATEGORIES:
            raise self._invalid(
                "/body/category", f"category is one of {', '.join(words.CATEGORIES)}"
            )
        raw = body.get("content")
        content = plain(raw) if isinstance(raw, str) else None
        if content is None or not content.strip() or len(content) > MAX_CONTENT:
            raise self._invalid(
                "/body/content",
                f"content is 1 to {MAX_CONTENT} printable characters (line breaks allowed)",
            )
        place = body.get("division")
        if not isinstance(place, str) or not (
            len(place) == 6 and place.isascii() and place.isdigit() and place.startswith("43")
        ):
            raise self._invalid(
                "/body/division", "division is a Hunan division code (GB/T 2260, 43xxxx)"
            )
        if known_division(place) is None:
            raise self._invalid(
                "/body/division",
                f"{place} is not a current Hunan division code (GB/T 2260; a county renamed or"
                " merged has a new code)",
            )
        item = body.get("itemCode")
        if item is not None and (
            not isinstance(item, str) or not 1 <= len(item) <= 64 or not item.isprintable()
        ):
            raise self._invalid("/body/itemCode", "itemCode is a catalog item's code")
        extra = sorted(set(body) - {"channel", "category", "content", "division", "itemCode"})
        if extra:
            raise self._invalid(f"/body/{extra[0]}", f"{extra[0]} is not a field of a ticket")
        return {
            "channel": channel,
            "category": category,
            "content": content,
            "division": place,
            "itemCode": item,
        }

    async def file_ticket(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        assert facts.person_id is not None
        key = self._header(request, IDEMPOTENCY_HEADER)
        if key is None or not 1 <= len(key) <= 128 or not set(key) <= _KEY_CHARS:
            raise Refusal(
                problems.IDEMPOTENCY_KEY_REQUIRED,
                "Send an Idempotency-Key header (1 to 128 of A-Z a-z 0-9 _ . : -): a retry with"
                " the same key returns the same ticket.",
            )
        filing = self._filing(self._json(request))
        host = self._host()
        key_digest = _digest(self.config.service, key)
        request_digest = _digest(
            json.dumps(filing, sort_keys=True, ensure_ascii=False), str(facts.acting_for)
        )
        async with host.sessionmaker() as session:
            if filing["itemCode"] is not None:
                exists = await session.scalar(
                    select(Item.id).where(Item.code == filing["itemCode"])
                )
                if exists is None:
                    raise self._invalid(
                        "/body/itemCode", "no service item in the catalog has this code"
                    )
            firm = (
                await session.get(LegalPerson, facts.acting_for)
                if facts.acting_for is not None
                else None
            )
        ticket, created = await self._ticket_row(facts, filing, firm, key_digest, request_digest)
        if ticket.number is None:
            ticket = await self._register(request, ticket, firm)
        return await self._answer(ticket, 201 if created else 200)

    async def _ticket_row(
        self,
        facts: CallerFacts,
        filing: dict[str, Any],
        firm: LegalPerson | None,
        key_digest: str,
        request_digest: str,
    ) -> tuple[HotlineTicket, bool]:
        """The ticket this key filed, or a new one (written before the system is asked)."""
        assert facts.person_id is not None
        mine = (
            select(HotlineTicket)
            .where(HotlineTicket.person_id == facts.person_id)
            .where(HotlineTicket.idempotency_key == key_digest)
        )
        found: HotlineTicket | None = None
        try:
            async with self._host().sessionmaker() as session, session.begin():
                await take_write_lock(session)
                found = await session.scalar(mine)
                if found is None:
                    ticket = self._new_ticket(facts, filing, firm, key_digest, request_digest)
                    session.add(ticket)
                    return ticket, True
        except IntegrityError:
            # The same key at the same moment from another request: that one's ticket.
            async with self._host().sessionmaker() as session:
                found = await session.scalar(mine)
            if found is None:
                raise
        if found.request_digest != request_digest:
            raise Refusal(
                problems.IDEMPOTENCY_CONFLICT,
                "This Idempotency-Key already filed another ticket; use a new key for a new"
                " ticket.",
                {"ticket": found.id},
            )
        return found, False

    def _new_ticket(
        self,
        facts: CallerFacts,
        filing: dict[str, Any],
        firm: LegalPerson | None,
        key_digest: str,
        request_digest: str,
    ) -> HotlineTicket:
        assert facts.person_id is not None
        now = self._now()
        deadline = ticket_deadline(self._host().settings, filing["category"], now)
        enterprise = firm is not None
        return HotlineTicket(
            id=secrets.token_hex(16),
            service=self.config.service,
            person_id=facts.person_id,
            legal_person_id=firm.id if firm is not None else None,
            client_id=facts.client_id,
            idempotency_key=key_digest,
            request_digest=request_digest,
            channel=filing["channel"],
            category=filing["category"],
            content=filing["content"],
            division=filing["division"],
            item_code=filing["itemCode"],
            desk="zqt" if enterprise else "centre",
            priority=(
                ("urgent" if filing["category"] in _ENTERPRISE_URGENT else "high")
                if enterprise
                else "normal"
            ),
            status=words.FILING,
            last_seq=0,
            filed_at=now,
            deadline_at=deadline.at,
            deadline_estimated=deadline.estimated,
        )

    async def _register(
        self, request: UpstreamRequest, ticket: HotlineTicket, firm: LegalPerson | None
    ) -> HotlineTicket:
        """Files ``ticket`` at the system (again, after a lost answer: the reference is the
        same, so the system answers the ticket it has) and records what it answered."""
        body: dict[str, Any] = {
            "wbbh": ticket.id,
            "qdly": words.CHANNELS[ticket.channel],
            "sqlx": words.CATEGORIES[ticket.category],
            "nr": ticket.content,
            "xzqh": ticket.division,
            "sxbm": ticket.item_code,
            "zqt": ticket.desk == "zqt",
            "yxj": words.PRIORITIES[ticket.priority],
        }
        if firm is not None:
            body["qymc"] = firm.name
            body["tyshxydm"] = firm.uscc
        answer = await self._system(request, sys_.CREATE, body)
        if not answer.ok:
            if answer.code in (sys_.BAD_PARAMETER, sys_.REFERENCE_REUSED):
                # Refused for good: the row goes, so the key can file a corrected ticket.
                await self._forget(ticket)
                raise Refusal(
                    problems.REFUSED,
                    f"The 12345 system refused the ticket: {self._said(answer)}",
                    {"systemCode": answer.code, "systemMessage": self._said(answer)},
                )
            raise Refusal(
                problems.SYSTEM_FAILED,
                f"The 12345 system answered code {answer.code}.",
                {"systemCode": answer.code},
            )
        return await self._record(ticket.id, answer.data)

    async def _forget(self, ticket: HotlineTicket) -> None:
        async with self._host().sessionmaker() as session, session.begin():
            await take_write_lock(session)
            row = await session.get(HotlineTicket, ticket.id)
            if row is not None and row.number is None:
                await session.delete(row)

    async def _record(self, ticket_id: str, data: object) -> HotlineTicket:
        """The system's ticket (``data``) recorded on the gateway's row: number and history."""
        if not isinstance(data, dict):
            raise BadSystemData("the answer holds no ticket")
        number = data.get("gdbh")
        if not isinstance(number, str) or not 1 <= len(number) <= 40 or not number.isprintable():
            raise BadSystemData("gdbh is not a ticket number")
        history = data.get("lsjl")
        if not isinstance(history, list) or len(history) > 1000:
            raise BadSystemData("lsjl is not a list of transitions")
        steps = [transition(entry) for entry in history]
        try:
            await self._apply_answer(ticket_id, number, steps)
        except IntegrityError:
            raise BadSystemData(
                f"the system numbered this ticket {number}, the number of another ticket"
            ) from None
        async with self._host().sessionmaker() as session:
            fresh = await session.get(HotlineTicket, ticket_id)
            assert fresh is not None
            return fresh

    async def _apply_answer(self, ticket_id: str, number: str, steps: list[Transition]) -> None:
        async with self._host().sessionmaker() as session, session.begin():
            await take_write_lock(session)
            ticket = await session.get(HotlineTicket, ticket_id, with_for_update=True)
            if ticket is None:
                raise BadSystemData("the ticket is gone")  # pragma: no cover - never deleted
            if ticket.number is None:
                ticket.number = number
            elif ticket.number != number:
                raise BadSystemData("the system answered another ticket for this reference")
            if ticket.status == words.FILING and not steps:
                ticket.status = "accepted"
            for step in steps:
                await apply(session, ticket, step)
            if ticket.status == words.FILING:
                ticket.status = "accepted"

    async def _answer(self, ticket: HotlineTicket, status: int) -> UpstreamResponse:
        settings = self._host().settings
        async with self._host().sessionmaker() as session:
            events = list(
                await session.scalars(
                    select(HotlineTicketEvent).where(HotlineTicketEvent.ticket_id == ticket.id)
                )
            )
            rating = await self._rating_of(session, ticket.person_id, "ticket", ticket.id)
        view = ticket_view(ticket, settings, self._now(), events=events, rating=rating)
        return json_answer(status, view)

    async def _rating_of(
        self, session: AsyncSession, person_id: int, kind: str, subject: str
    ) -> dict[str, Any] | None:
        rating = await session.scalar(
            select(HotlineRating)
            .where(HotlineRating.person_id == person_id)
            .where(HotlineRating.subject_kind == kind)
            .where(HotlineRating.subject_id == subject)
        )
        if rating is None:
            return None
        follow_up = await session.scalar(
            select(HotlineFollowUp).where(HotlineFollowUp.rating_id == rating.id)
        )
        return rating_view(rating, follow_up, self._host().settings)

    @staticmethod
    async def _own_ticket(
        session: AsyncSession, facts: CallerFacts, ticket_id: str
    ) -> HotlineTicket:
        ticket = (
            await session.get(HotlineTicket, ticket_id)
            if len(ticket_id) == 32 and ticket_id.isalnum()
            else None
        )
        if ticket is None or ticket.person_id != facts.person_id:
            raise Refusal(problems.TICKET_NOT_FOUND, "You filed no ticket with this id.")
        return ticket

    async def get_ticket(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        async with self._host().sessionmaker() as session:
            ticket = await self._own_ticket(session, facts, params[0])
        if ticket.number is None:
            # The filing's answer was lost: the system is asked by the reference.
            ticket = await self._refresh(request, ticket)
        return await self._answer(ticket, 200)

    async def _refresh(self, request: UpstreamRequest, ticket: HotlineTicket) -> HotlineTicket:
        answer = await self._system(request, sys_.QUERY, {"wbbh": ticket.id})
        if answer.ok:
            return await self._record(ticket.id, answer.data)
        return ticket  # not there yet (2001): still being filed; a retry of the filing sends it

    async def list_tickets(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        page = self._number(query, "page", 1, 1, 100_000)
        size = self._number(query, "pageSize", 20, 1, MAX_PAGE)
        status = query.get("status")
        if status and status not in words.STATUS_NAMES:
            raise self._invalid(
                "/query/status", f"status is one of {', '.join(words.STATUS_NAMES)}"
            )
        mine = select(HotlineTicket).where(HotlineTicket.person_id == facts.person_id)
        if status:
            mine = mine.where(HotlineTicket.status == status)
        async with self._host().sessionmaker() as session:
            total = await session.scalar(select(func.count()).select_from(mine.subquery()))
            rows = list(
                await session.scalars(
                    mine.order_by(HotlineTicket.filed_at.desc(), HotlineTicket.id)
                    .offset((page - 1) * size)
                    .limit(size)
                )
            )
        settings, now = self._host().settings, self._now()
        return json_answer(
            200,
            {
                "total": total or 0,
                "page": page,
                "pageSize": size,
                "items": [ticket_view(t, settings, now) for t in rows],
            },
        )

    @staticmethod
    def _number(values: dict[str, str], name: str, default: int, least: int, most: int) -> int:
        raw = values.get(name, default)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = least - 1
        if not least <= number <= most:
            raise HotlineConnector._invalid(
                f"/query/{name}", f"{name} is an integer from {least} to {most}"
            )
        return number

    # -- ratings ----------------------------------------------------------------------------

    def _rating(self, body: dict[str, Any], *fields: str) -> tuple[int, str | None]:
        level = words.LEVELS.get(body.get("level"))  # type: ignore[arg-type]
        if level is None:
            raise self._invalid("/body/level", f"level is one of {', '.join(words.LEVELS)}")
        raw = body.get("comment")
        comment = plain(raw) if isinstance(raw, str) else None
        if raw is not None and (comment is None or len(comment) > MAX_COMMENT):
            raise self._invalid(
                "/body/comment", f"comment is at most {MAX_COMMENT} printable characters"
            )
        extra = sorted(set(body) - {"level", "comment", *fields})
        if extra:
            raise self._invalid(f"/body/{extra[0]}", f"{extra[0]} is not a field of a rating")
        return level, comment or None

    async def _save_rating(self, rating: HotlineRating) -> dict[str, Any]:
        """Stores the rating and, for 差评, its follow-up; 409 when this was already rated."""
        host = self._host()
        follow_up = None
        if rating.level in words.BAD:
            deadline = follow_up_deadline(host.settings, rating.rated_at)
            follow_up = HotlineFollowUp(
                id=secrets.token_hex(16),
                rating_id=rating.id,
                division=rating.division,
                item_code=rating.item_code,
                opened_at=rating.rated_at,
                deadline_at=deadline.at,
                deadline_estimated=deadline.estimated,
            )
        try:
            async with host.sessionmaker() as session, session.begin():
                await take_write_lock(session)
                session.add(rating)
                await session.flush()
                if follow_up is not None:
                    session.add(follow_up)
        except IntegrityError:
            raise Refusal(
                problems.NOT_RATEABLE, f"You have already rated this {rating.subject_kind}."
            ) from None
        return rating_view(rating, follow_up, host.settings)

    async def rate_ticket(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        assert facts.person_id is not None
        level, comment = self._rating(self._json(request))
        host = self._host()
        async with host.sessionmaker() as session:
            ticket = await self._own_ticket(session, facts, params[0])
            rated = await self._rating_of(session, facts.person_id, "ticket", ticket.id)
        if rated is not None:
            raise Refusal(problems.NOT_RATEABLE, "You have already rated this ticket.")
        if ticket.status not in words.RATEABLE:
            # A callback may still be on its way: the system's own word decides.
            ticket = await self._refresh(request, ticket)
        if ticket.status not in words.RATEABLE or ticket.number is None:
            raise Refusal(
                problems.NOT_RATEABLE,
                f"The ticket is {words.STATUS_NAMES.get(ticket.status, ticket.status)}: it can be"
                " rated once it is closed (办结).",
                {"status": ticket.status},
            )
        answer = await self._system(
            request,
            sys_.EVALUATE,
            {"gdbh": ticket.number, "myd": str(level), "pjnr": comment or ""},
        )
        if not answer.ok:
            if answer.code == sys_.STATUS_FORBIDS:
                # The system's own view (rated elsewhere, sent back meanwhile) decides.
                raise Refusal(
                    problems.NOT_RATEABLE,
                    f"The 12345 system does not take a rating now: {self._said(answer)}",
                    {"systemCode": answer.code},
                )
            raise Refusal(
                problems.SYSTEM_FAILED,
                f"The 12345 system answered code {answer.code}.",
                {"systemCode": answer.code},
            )
        await self._record(ticket.id, answer.data)
        view = await self._save_rating(
            HotlineRating(
                id=secrets.token_hex(16),
                person_id=facts.person_id,
                subject_kind="ticket",
                subject_id=ticket.id,
                item_code=ticket.item_code,
                division=await self._owner(ticket.item_code, ticket.division),
                channel=ticket.channel,
                level=level,
                comment=comment,
                rated_at=self._now(),
            )
        )
        return json_answer(201, view)

    async def _owner(self, item_code: str | None, fallback: str) -> str:
        """The division that owns the rated item (its follow-up is theirs)."""
        if item_code is None:
            return fallback
        async with self._host().sessionmaker() as session:
            owner = await session.scalar(select(Item.division).where(Item.code == item_code))
        return owner or fallback

    async def rate_call(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        assert facts.person_id is not None
        body = self._json(request)
        event_id = body.get("eventId")
        if not isinstance(event_id, str) or len(event_id) != 32 or not event_id.isalnum():
            raise self._invalid(
                "/body/eventId", "eventId is the Xyb-Event-Id of a call's answer (32 characters)"
            )
        event_id = event_id.lower()
        level, comment = self._rating(body, "eventId")
        host = self._host()
        async with host.sessionmaker() as session:
            record = await session.scalar(
                select(AuditRecord)
                .where(AuditRecord.event_id == event_id)
                .where(AuditRecord.kind == "call")
                .limit(1)
            )
        mine = (
            record is not None
            and record.service is not None
            and record.subject is not None
            and record.subject
            == host.identity().cipher.pairwise(f"p:{facts.person_id}", record.service)
        )
        if record is None or not mine:
            raise Refusal(
                problems.CALL_NOT_FOUND,
                "No call of yours has this event id (a call is recorded within seconds of its"
                " answer; rate it with the Xyb-Event-Id its answer carried).",
            )
        if record.status is None or not 200 <= record.status < 300 or not record.item_code:
            raise Refusal(
                problems.NOT_RATEABLE,
                "Only a call that succeeded and is bound to a service item can be rated.",
                {"status": record.status},
            )
        view = await self._save_rating(
            HotlineRating(
                id=secrets.token_hex(16),
                person_id=facts.person_id,
                subject_kind="call",
                subject_id=event_id,
                item_code=record.item_code,
                division=await self._owner(record.item_code, record.division or "430000"),
                channel="app",
                level=level,
                comment=comment,
                rated_at=self._now(),
            )
        )
        return json_answer(201, view)

    async def list_ratings(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        page = self._number(query, "page", 1, 1, 100_000)
        size = self._number(query, "pageSize", 20, 1, MAX_PAGE)
        mine = select(HotlineRating).where(HotlineRating.person_id == facts.person_id)
        async with self._host().sessionmaker() as session:
            total = await session.scalar(select(func.count()).select_from(mine.subquery()))
            rows = list(
                await session.scalars(
                    mine.order_by(HotlineRating.rated_at.desc(), HotlineRating.id)
                    .offset((page - 1) * size)
                    .limit(size)
                )
            )
            follow_ups = {
                f.rating_id: f
                for f in await session.scalars(
                    select(HotlineFollowUp).where(
                        HotlineFollowUp.rating_id.in_([r.id for r in rows])
                    )
                )
            }
        settings = self._host().settings
        return json_answer(
            200,
            {
                "total": total or 0,
                "page": page,
                "pageSize": size,
                "items": [rating_view(r, follow_ups.get(r.id), settings) for r in rows],
            },
        )


def create(config: ConnectorConfig) -> HotlineConnector:
    """The ``xyb.connectors`` entry point ``hotline``."""
    return HotlineConnector(config)
