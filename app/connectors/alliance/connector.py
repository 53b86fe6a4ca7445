"""The ``alliance`` connector: the canonical alliance API (canonical.yaml) at one partner app of
the cross-province alliance (粤省事 440000, 随申办 310000, 赣服通 360000), chosen by the division
the service is onboarded at. The partner's protocol is its dialect's business (``dialects/``); this
module keeps what is the same for all of them:

- Who: a resident's own token, verified (assurance 2), never one acting for a legal person; the
  partner acts on the ID number the gateway verified, never on anything the caller sends.
- Outbound single sign-on: the gateway obtains a partner credential for the resident at the
  partner's token endpoint, authenticated by the gateway's signed assertion for this service
  (which names the resident); the caller's 湘易办 token never leaves the gateway. Credentials are
  kept until a minute before they expire, and one the partner refuses is replaced once.
- Writes: the caller's ``Idempotency-Key`` becomes the partner's request reference (a digest of
  the service, the client, the resident and the key, so two callers' keys never meet), and the
  partners keep one filing or transfer per reference. A write whose answer was lost (a timeout,
  a dropped connection) is remembered; the retry first asks the partner for the reference's
  filing or transfer and answers it when the partner holds one, so a partner that committed and
  then hung holds exactly one.
- Refusals keep the partner's own code and message (problem+json, ``partnerCode``,
  ``partnerMessage``); an answer that is not the partner's protocol is a 502 like any bad
  upstream answer, and transport failures raise the connector error tree, so the gateway's
  breaker, timeout and concurrency cap apply per partner service.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from app.connectors.alliance import problems
from app.connectors.alliance.canonical import (
    FIRST_YEAR,
    LAST_YEAR,
    PARTNER_ID,
    QUERY_MONTH,
    FilingCancellation,
    FilingRequest,
    Records,
    TransferRequest,
)
from app.connectors.alliance.dialects import dialect_for
from app.connectors.alliance.dialects.base import (
    BadPartnerAnswer,
    Credential,
    Dialect,
    PartnerAnswer,
    PartnerCall,
    PartnerRefused,
)
from app.connectors.answers import Refusal, model_answer, problem_answer, read_capped
from app.connectors.base import (
    CallerFacts,
    ConnectorConfig,
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
)
from app.connectors.errors import map_transport_error
from app.core.errors import NOT_FOUND, VALIDATION_FAILED

_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError, HttpProcessingError, OSError)
ASSERTION_HEADER = "x-xyb-assertion"
IDEMPOTENCY_HEADER = "idempotency-key"
# Partners act on the ID number the gateway vouches for: it must be known to be the person's.
RESIDENT_ASSURANCE = 2
# A credential is replaced this long before the partner says it expires.
CREDENTIAL_MARGIN_S = 60.0
CREDENTIALS_KEPT = 10_000
# Writes whose answer was lost, kept this long for their retry to reconcile by reference.
UNCERTAIN_KEPT_S = 24 * 3600.0
UNCERTAIN_KEPT = 10_000
MAX_RECORD_PAGES = 50
_QUERY_MONTH = re.compile(QUERY_MONTH)
_PARTNER_ID = re.compile(PARTNER_ID)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")

Handler = Callable[[UpstreamRequest, list[str]], Awaitable[UpstreamResponse]]


class AllianceConnector:
    """Answers the canonical alliance API at one partner; one instance per onboarded service."""

    kind = "alliance"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.division = config.service.split("/", 1)[0]
        self.dialect: Dialect | None = dialect_for(self.division)
        self._base = config.base_url.rstrip("/")
        # ID number -> (credential, monotonic time it stops being used).
        self._credentials: dict[str, tuple[str, float]] = {}
        # Partner reference -> monotonic time its write's answer was lost.
        self._uncertain: dict[str, float] = {}
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "medical-filings"): self.create_filing,
            ("GET", "medical-filings/*"): self.get_filing,
            ("POST", "medical-filings/*/cancellation"): self.cancel_filing,
            ("GET", "social-insurance/records"): self.records,
            ("GET", "provident-fund/account"): self.account,
            ("POST", "provident-fund/transfers"): self.create_transfer,
            ("GET", "provident-fund/transfers/*"): self.get_transfer,
        }
        # The segment that is an identifier, by the collection it follows.
        self._id_after = {"medical-filings": 1, "transfers": 2}

    async def aclose(self) -> None:
        await self.config.transport.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        handler, params = self._route(request.method, request.path)
        try:
            async with asyncio.timeout(request.timeout):
                return await handler(request, params)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The partner behind {self.config.service} did not answer within"
                f" {request.timeout:g} s."
            ) from None
        except Refusal as refusal:
            return problem_answer(refusal, request.request_id or None)

    def _route(self, method: str, path: str) -> tuple[Handler, list[str]]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        method = "GET" if method == "HEAD" else method
        params: list[str] = []
        for collection, at in self._id_after.items():
            if len(parts) > at and parts[at - 1] == collection:
                params.append(parts[at])
                parts[at] = "*"
        handler = self._routes.get((method, "/".join(parts)))
        if handler is None or not all(_PARTNER_ID.fullmatch(p) for p in params):
            # An identifier outside the partners' alphabet (the document's pattern) would be
            # another path at the partner once decoded there ("/" in it): none is sent.
            return self._not_found, []
        return handler, params

    async def _not_found(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        raise Refusal(NOT_FOUND, "The alliance service has no such operation.")

    def _partner(self) -> Dialect:
        if self.dialect is None:
            raise Refusal(
                problems.MISCONFIGURED,
                f"{self.config.service} is not at an alliance partner's division (440000 粤省事,"
                " 310000 随申办, 360000 赣服通).",
            )
        return self.dialect

    def _resident(self, request: UpstreamRequest) -> tuple[CallerFacts, str]:
        """The caller, a verified resident acting for themselves, and their ID number."""
        facts = request.caller
        if facts is None:
            raise Refusal(problems.MISCONFIGURED, "The gateway did not say who is calling.")
        if facts.person_id is None or facts.acting_for is not None:
            raise Refusal(
                problems.RESIDENT_ONLY,
                "This acts for one resident at the partner app: use the resident's own access"
                " token (not an application's, not one acting for a legal person).",
            )
        if facts.id_number is None:
            raise Refusal(
                problems.MISCONFIGURED,
                f"{self.config.service} must be classified personal or sensitive: the partner"
                " acts on the resident's verified ID number.",
            )
        if facts.assurance < RESIDENT_ASSURANCE:
            raise Refusal(
                problems.ASSURANCE_TOO_LOW,
                f"The partner app acts on the ID number the gateway vouches for: that needs a"
                f" token of assurance {RESIDENT_ASSURANCE}; this one has {facts.assurance}. An"
                " account registered here with a typed ID number keeps that assurance, even when"
                " its holder later signs in through a partner app: verification in person at a"
                " service counter raises it.",
                {
                    "required_assurance": RESIDENT_ASSURANCE,
                    "assurance": facts.assurance,
                    "step_up": True,
                },
            )
        return facts, facts.id_number

    @staticmethod
    def _query(request: UpstreamRequest) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}

    @staticmethod
    def _header(request: UpstreamRequest, name: str) -> str | None:
        for key, value in request.headers:
            if key.lower() == name:
                return value
        return None

    def _reference(self, request: UpstreamRequest, facts: CallerFacts) -> str:
        """The partner's request reference for the caller's Idempotency-Key."""
        key = self._header(request, IDEMPOTENCY_HEADER)
        if key is None or not 1 <= len(key) <= 128 or not set(key) <= _KEY_CHARS:
            raise Refusal(
                problems.IDEMPOTENCY_KEY_REQUIRED,
                "Send an Idempotency-Key header (1 to 128 of A-Z a-z 0-9 _ . : -) with every"
                " write: a retry with the same key returns the same filing or transfer.",
            )
        digest = hashlib.sha256(
            "\x00".join([self.config.service, facts.client_id, str(facts.person_id), key]).encode(
                "utf-8"
            )
        ).hexdigest()
        # Letters and digits only, 32 characters: within every partner's reference format.
        return "XYB" + digest[:29].upper()

    @staticmethod
    def _body(request: UpstreamRequest, model: type[BaseModel], *, empty_ok: bool = False) -> Any:
        """The caller's JSON body as ``model`` (the gateway validated it against the document;
        checked again so that a looser document cannot make the connector fail)."""
        raw = request.body
        if empty_ok and not raw.strip():
            raw = b"{}"
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            errors = [
                {
                    "pointer": "/body" + "".join(f"/{part}" for part in error["loc"]),
                    "detail": error["msg"],
                }
                for error in exc.errors()[:20]
            ]
            raise Refusal(
                VALIDATION_FAILED,
                "The body is not what this operation takes: " + errors[0]["detail"],
                {"errors": errors},
            ) from None

    # -- the partner ------------------------------------------------------------------------

    def _headers(self, request: UpstreamRequest) -> list[tuple[str, str]]:
        own = [("x-request-id", request.request_id)]
        if request.client_id is not None:
            own.append(("x-xyb-client", request.client_id))
        return own

    async def _exchange(
        self,
        request: UpstreamRequest,
        call: PartnerCall,
        extra: Sequence[tuple[str, str]],
    ) -> PartnerAnswer:
        """One HTTP exchange with the partner."""
        service = self.config.service
        headers = [
            *call.headers,
            *extra,
            *self._headers(request),
            ("accept-encoding", "identity"),
        ]
        if call.content_type is not None:
            headers.append(("content-type", call.content_type))
        outgoing = httpx.Request(
            call.method, self._base + call.path, headers=headers, content=call.body
        )
        try:
            response = await self.config.transport.handle_async_request(outgoing)
            try:
                body = await read_capped(
                    response,
                    self.config.max_response_bytes,
                    f"The partner behind {self.config.service}",
                )
            finally:
                await response.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, service=service, timeout=request.timeout) from exc
        return PartnerAnswer(response.status_code, response.headers.get("content-type", ""), body)

    def _bad(self, exc: BadPartnerAnswer) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            f"The partner behind {self.config.service} answered outside its protocol: {exc}"
        )

    async def _credential(self, request: UpstreamRequest, id_number: str, *, fresh: bool) -> str:
        """The partner's credential for the resident (outbound single sign-on)."""
        now = time.monotonic()
        kept = self._credentials.get(id_number)
        if kept is not None and kept[1] > now and not fresh:
            return kept[0]
        assertion = next(
            (v for k, v in request.extra_headers if k.lower() == ASSERTION_HEADER), None
        )
        if assertion is None:
            raise Refusal(
                problems.MISCONFIGURED,
                "The gateway sent no signed assertion for this call: the partner's token"
                " endpoint needs it.",
            )
        dialect = self._partner()
        answer = await self._exchange(
            request, dialect.token_call(id_number), [(ASSERTION_HEADER, assertion)]
        )
        try:
            credential: Credential = dialect.read_credential(answer)
        except PartnerRefused as refused:
            raise self._refusal(refused) from None
        except BadPartnerAnswer as exc:
            raise self._bad(exc) from None
        if len(self._credentials) >= CREDENTIALS_KEPT:
            self._credentials.clear()  # rare; simpler than LRU bookkeeping
        self._credentials[id_number] = (
            credential.value,
            now + max(0.0, credential.expires_in - CREDENTIAL_MARGIN_S),
        )
        return credential.value

    def _partner_words(self, refused: PartnerRefused) -> dict[str, Any]:
        return {
            "partner": self.division,
            "partnerCode": refused.code,
            "partnerMessage": refused.message,
        }

    def _refusal(self, refused: PartnerRefused, *, by_id: str | None = None) -> Refusal:
        """The partner's refusal as the caller sees it. ``by_id`` names what a call by its
        identifier looked for: that it is absent and that it is another person's are answered
        alike, without the partner's words, which tell the two apart."""
        words = self._partner_words(refused)
        said = f"{refused.code} {refused.message}".strip()
        if by_id is not None and refused.kind in ("not-found", "forbidden"):
            return Refusal(
                problems.PARTNER_NOT_FOUND,
                f"The partner holds no {by_id} with this number for you.",
                {"partner": self.division},
            )
        match refused.kind:
            case "invalid":
                return Refusal(
                    problems.PARTNER_REFUSED,
                    f"The partner refused the request: {said}",
                    {**words, "errors": [{"pointer": "", "detail": refused.message}]},
                )
            case "not-found" | "forbidden":
                # Another person's record is answered as one that does not exist: no oracle.
                return Refusal(
                    problems.PARTNER_NOT_FOUND, f"The partner holds no such record: {said}", words
                )
            case "conflict":
                return Refusal(
                    problems.PARTNER_CONFLICT,
                    f"The partner's state does not allow it: {said}",
                    words,
                )
            case "unavailable":
                return Refusal(
                    problems.PARTNER_UNAVAILABLE, f"The partner cannot serve now: {said}", words
                )
            case "credential" | "assertion":
                what = (
                    "the gateway's signed assertion"
                    if refused.kind == "assertion"
                    else "the credential it issued for the resident"
                )
                return Refusal(
                    problems.SIGN_ON_FAILED, f"The partner did not accept {what}: {said}", words
                )
            case _:
                return Refusal(problems.PARTNER_FAILED, f"The partner failed: {said}", words)

    async def _call(
        self,
        request: UpstreamRequest,
        id_number: str,
        call: PartnerCall,
        read: Callable[[PartnerAnswer], Any],
        *,
        by_id: str | None = None,
    ) -> Any:
        """The call with the resident's credential, read by ``read``; a credential the partner
        refuses is replaced once (a partner restarted, a key rotated there). ``by_id``: see
        :meth:`_refusal`."""
        dialect = self._partner()
        for attempt in (0, 1):
            credential = await self._credential(request, id_number, fresh=attempt > 0)
            answer = await self._exchange(request, call, [dialect.credential_header(credential)])
            try:
                return read(answer)
            except PartnerRefused as refused:
                if refused.kind == "credential" and attempt == 0:
                    self._credentials.pop(id_number, None)
                    continue
                raise self._refusal(refused, by_id=by_id) from None
            except BadPartnerAnswer as exc:
                raise self._bad(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(
        self,
        request: UpstreamRequest,
        id_number: str,
        reference: str,
        create: PartnerCall,
        find: PartnerCall,
        read: Callable[[PartnerAnswer], Any],
        same: Callable[[Any], bool],
    ) -> Any:
        """A create made safe to retry: a reference whose earlier answer was lost is first looked
        up at the partner (reconciliation), and only created when the partner holds nothing.
        What it finds must be what this request asks (``same``): the key's first request may
        have had another body."""
        now = time.monotonic()
        lost_at = self._uncertain.get(reference)
        if lost_at is not None and now - lost_at < UNCERTAIN_KEPT_S:
            try:
                found = await self._call(request, id_number, find, read)
            except Refusal as refusal:
                if refusal.problem is not problems.PARTNER_NOT_FOUND:
                    raise
            else:
                self._uncertain.pop(reference, None)
                if not same(found):
                    raise Refusal(
                        problems.PARTNER_CONFLICT,
                        "This Idempotency-Key was used for another request: the partner holds"
                        f" what the first one asked ({found.id}).",
                        {"partner": self.division},
                    )
                return found
        # Uncertain until the partner's answer is read: should the deadline or the connection
        # end first, the partner may hold the write, and the retry looks for it before creating.
        self._remember(reference, now)
        try:
            made = await self._call(request, id_number, create, read)
        except ConnectorError as error:
            if error.not_sent:
                self._uncertain.pop(reference, None)
            raise
        except Refusal as refusal:
            self._uncertain.pop(reference, None)
            if refusal.problem is problems.PARTNER_CONFLICT:
                # The partner speaks of its own reference field, which the caller never sent.
                said = refusal.detail.removeprefix("The partner's state does not allow it: ")
                raise Refusal(
                    problems.PARTNER_CONFLICT,
                    "The Idempotency-Key was used for another request, or the partner's state"
                    f" does not allow it (the partner said: {said})",
                    refusal.extensions,
                ) from None
            raise
        self._uncertain.pop(reference, None)
        return made

    def _remember(self, reference: str, now: float) -> None:
        if len(self._uncertain) >= UNCERTAIN_KEPT:
            cutoff = now - UNCERTAIN_KEPT_S
            self._uncertain = {k: t for k, t in self._uncertain.items() if t > cutoff}
            if len(self._uncertain) >= UNCERTAIN_KEPT:
                self._uncertain.clear()  # rare; the partners' own idempotency still holds
        self._uncertain[reference] = now

    @staticmethod
    def _answer(status: int, model: BaseModel, location: str | None = None) -> UpstreamResponse:
        answer = model_answer(status, model)
        if location is not None:
            answer.headers.append(("location", location))
        return answer

    # -- operations -------------------------------------------------------------------------

    async def create_filing(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts, id_number = self._resident(request)
        dialect = self._partner()
        reference = self._reference(request, facts)
        body: FilingRequest = self._body(request, FilingRequest)
        if body.kind == "temporary-treatment" and body.endDate is None:
            raise Refusal(
                VALIDATION_FAILED,
                "A temporary-treatment filing needs an endDate.",
                {"errors": [{"pointer": "/body/endDate", "detail": "required for this kind"}]},
            )
        filing = await self._write(
            request,
            id_number,
            reference,
            dialect.create_filing_call(id_number, reference, body),
            dialect.find_filing_call(id_number, reference),
            dialect.read_filing,
            lambda found: _same(found, body, dialect.drops["filing"]),
        )
        return self._answer(201, filing, f"/medical-filings/{filing.id}")

    async def get_filing(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        _, id_number = self._resident(request)
        dialect = self._partner()
        call = dialect.get_filing_call(id_number, params[0])
        found = await self._call(request, id_number, call, dialect.read_filing, by_id="filing")
        return self._answer(200, found)

    async def cancel_filing(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        _, id_number = self._resident(request)
        dialect = self._partner()
        body: FilingCancellation = self._body(request, FilingCancellation, empty_ok=True)
        call = dialect.cancel_filing_call(id_number, params[0], body.reason)
        try:
            done = await self._call(request, id_number, call, dialect.read_filing, by_id="filing")
        except Refusal as refusal:
            if refusal.problem is not problems.PARTNER_CONFLICT:
                raise
            # Already cancelled (perhaps by this caller's own cancel, whose answer was lost):
            # say so, with the filing, so a retry can tell that its cancel took effect.
            get = dialect.get_filing_call(id_number, params[0])
            held = await self._call(request, id_number, get, dialect.read_filing, by_id="filing")
            if held.status != "cancelled":
                raise
            raise Refusal(
                problems.PARTNER_CONFLICT,
                f"The filing is already cancelled (at {held.cancelledAt}).",
                {**refusal.extensions, "filing": held.model_dump(mode="json")},
            ) from None
        return self._answer(200, done)

    async def records(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        _, id_number = self._resident(request)
        dialect = self._partner()
        query = self._query(request)
        months = {name: query.get(name) or None for name in ("fromMonth", "toMonth")}
        for name, value in months.items():
            if value is not None and not _QUERY_MONTH.fullmatch(value):
                raise Refusal(
                    VALIDATION_FAILED,
                    f"{name} is a month, yyyy-MM, from {FIRST_YEAR} to {LAST_YEAR}.",
                    {"errors": [{"pointer": f"/query/{name}", "detail": "yyyy-MM"}]},
                )
        first: Records | None = None
        collected = []
        page: int | None = 1
        while page is not None and page <= MAX_RECORD_PAGES:
            call = dialect.records_call(id_number, months["fromMonth"], months["toMonth"], page)
            found = await self._call(request, id_number, call, dialect.read_records)
            first = first or found.records
            collected += found.records.records
            page = found.next_page
        assert first is not None
        whole = first.model_copy(update={"records": collected})
        return self._answer(200, whole)

    async def account(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        _, id_number = self._resident(request)
        dialect = self._partner()
        call = dialect.account_call(id_number)
        return self._answer(200, await self._call(request, id_number, call, dialect.read_account))

    async def create_transfer(
        self, request: UpstreamRequest, params: list[str]
    ) -> UpstreamResponse:
        facts, id_number = self._resident(request)
        dialect = self._partner()
        reference = self._reference(request, facts)
        body: TransferRequest = self._body(request, TransferRequest)
        # The account it moves (a partner may need its number; none at all is a 404 at once).
        account = await self._call(
            request, id_number, dialect.account_call(id_number), dialect.read_account
        )
        transfer = await self._write(
            request,
            id_number,
            reference,
            dialect.create_transfer_call(id_number, reference, body, account.accountNo),
            dialect.find_transfer_call(id_number, reference),
            dialect.read_transfer,
            lambda found: _same(found, body, dialect.drops["transfer"]),
        )
        return self._answer(201, transfer, f"/provident-fund/transfers/{transfer.id}")

    async def get_transfer(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        _, id_number = self._resident(request)
        dialect = self._partner()
        call = dialect.get_transfer_call(id_number, params[0])
        found = await self._call(request, id_number, call, dialect.read_transfer, by_id="transfer")
        return self._answer(200, found)


def _same(held: BaseModel, asked: BaseModel, dropped: frozenset[str]) -> bool:
    """Whether what the partner holds is what ``asked`` asks, in every field of the request the
    partner keeps (``dropped``: those it is not sent). Text is compared as partners keep it,
    without surrounding blanks."""
    for name, value in asked:
        if name in dropped:
            continue
        kept = getattr(held, name, None)
        if isinstance(value, str) and isinstance(kept, str):
            value, kept = value.strip(), kept.strip()
        if kept != value:
            return False
    return True


def create(config: ConnectorConfig) -> AllianceConnector:
    """The ``xyb.connectors`` entry point ``alliance``."""
    return AllianceConnector(config)
