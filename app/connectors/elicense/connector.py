"""The ``elicense`` connector: the canonical e-license API (canonical.yaml) over the registry's own
protocol, with the decisions the gateway makes itself from the verified identity.

- Whose licenses: a resident's are those whose holder code is their verified ID number (the
  gateway's, never a parameter); an agent's token acts for its legal person's credit code.
- Reading someone else's license: only a client holding the holder's live consent for the
  license's type and the purpose it states in ``Xyb-Purpose``; the read goes to the personal-data
  access log (kind ``license-read``). Without a consent for the type the registry is not asked,
  so a client learns nothing of which licenses exist.
- Presentations (扫码亮证): the holder's chosen fields as an SD-JWT the gateway signs, shown as a
  short reference in a QR code; a verifier's check is live (a license revoked after the code was
  made fails) and a single-use code works once (one conditional UPDATE).
- Roles: ``verifier`` checks presentations; ``department`` issues and revokes.

Refusals are problem+json answers of this connector (app.connectors.elicense.problems); transport
failures raise the connector error tree, like any connector's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import (
    CallerFacts,
    ConnectorConfig,
    ConnectorHost,
    PersonalRead,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
)
from app.connectors.elicense import consents, mapping, presentations, qr, sdjwt
from app.connectors.elicense import registry as reg
from app.connectors.elicense.problems import (
    BAD_LICENSE_ID,
    CONSENT_NOT_FOUND,
    CONSENT_REQUIRED,
    LICENSE_CONFLICT,
    LICENSE_NOT_FOUND,
    LICENSE_REFUSED,
    PRESENTATION_GONE,
    PRESENTATION_NOT_FOUND,
    REGISTRY_FAILED,
    REGISTRY_UNAVAILABLE,
    RESIDENT_REQUIRED,
    ROLE_REQUIRED,
    SERVICE_MISCONFIGURED,
    STEP_UP,
    Refusal,
    json_answer,
    problem_answer,
)
from app.core.db import take_write_lock
from app.core.divisions import contains
from app.core.errors import BAD_REQUEST, NOT_FOUND, VALIDATION_FAILED
from app.core.identifiers import (
    is_valid_resident_id,
    normalise_resident_id,
    parse_license_id,
    resident_birth_date,
    validate_license_id,
    validate_resident_id,
    validate_uscc,
)
from app.identity.tokens import issue_assertion
from app.models.elicense import LicensePresentation
from app.models.identity import LegalPerson, Person

log = logging.getLogger("xyb.connectors.elicense")

ASSERTION_HEADER = "x-xyb-assertion"
LICENSE_READ = "license-read"
PRESENTATION_READ = "license-shown"
VERIFIER = "verifier"
DEPARTMENT = "department"
TYPE_CACHE_S = 300.0
# Whoever holds the licenses of an ID number must be known to be that person: verified by a
# partner app or in person (app.identity.accounts), not only registered with a typed number.
HOLDER_ASSURANCE = 2
_TYPE_PAGE = 100


@dataclass(frozen=True, slots=True)
class Holder:
    """Who the caller holds licenses as: the resident, or the legal person an agent acts for."""

    kind: str  # "person" | "legal_person"
    code: str  # ID number or credit code
    person_id: int | None
    legal_person_id: int | None


Handler = Callable[[UpstreamRequest, list[str]], Awaitable[UpstreamResponse]]


def _adult(birth: date, today: date, years: int) -> bool:
    try:
        anniversary = birth.replace(year=birth.year + years)
    except ValueError:  # 29 February: the birthday falls on 1 March
        anniversary = date(birth.year + years, 3, 1)
    return anniversary <= today


class ElicenseConnector:
    """Answers the canonical e-license API; one instance per onboarded e-license service."""

    kind = "elicense"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.host: ConnectorHost | None = config.host
        self.registry = reg.RegistryClient(config)
        self.prefix = "/gw/" + config.service
        self._types: tuple[float, list[dict[str, Any]]] | None = None
        self._types_lock = asyncio.Lock()
        self._routes = self._route_table()

    async def aclose(self) -> None:
        await self.config.transport.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    def _host(self) -> ConnectorHost:
        if self.host is None:
            raise Refusal(
                SERVICE_MISCONFIGURED,
                "The e-license connector runs only inside the gateway (it keeps consents and"
                " presentations in the gateway's database).",
            )
        return self.host

    def _today(self) -> date:
        host = self._host()
        return datetime.now(ZoneInfo(host.settings.timezone)).date()

    def _headers(self, request: UpstreamRequest) -> list[tuple[str, str]]:
        own = [(n, v) for n, v in request.extra_headers]
        own.append(("x-request-id", request.request_id))
        own.append(("x-xyb-division", request.division))
        if request.client_id is not None:
            own.append(("x-xyb-client", request.client_id))
        return own

    async def _registry(
        self, request: UpstreamRequest, path: str, body: dict[str, Any]
    ) -> reg.RegistryAnswer:
        answer = await self.registry.call(
            path, body, headers=self._headers(request), timeout=request.timeout
        )
        if answer.status != 200 or answer.code.startswith("9"):
            raise Refusal(
                REGISTRY_UNAVAILABLE if answer.status == 503 else REGISTRY_FAILED,
                f"The e-license registry answered HTTP {answer.status} (resultCode {answer.code}).",
                {"resultCode": answer.code},
            )
        return answer

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        handler, params = self._route(request.method, request.path)
        try:
            async with asyncio.timeout(request.timeout):
                return await handler(request, params)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The e-license service {self.config.service} did not answer within"
                f" {request.timeout:g} s."
            ) from None
        except Refusal as refusal:
            return problem_answer(refusal, request.request_id or None)

    def _route(self, method: str, path: str) -> tuple[Handler, list[str]]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        method = "GET" if method == "HEAD" else method
        shape = "/".join("*" if i % 2 else p for i, p in enumerate(parts))
        handler = self._routes.get((method, shape))
        if handler is None:
            return self._not_found, []
        return handler, [p for i, p in enumerate(parts) if i % 2]

    def _route_table(self) -> dict[tuple[str, str], Handler]:
        """The canonical operations by method and path shape (``*`` for a parameter)."""
        return {
            ("GET", "license-types"): self.list_types,
            ("GET", "licenses"): self.list_mine,
            ("POST", "licenses"): self.issue,
            ("GET", "licenses/*"): self.get_license,
            ("POST", "licenses/*/revocation"): self.revoke,
            ("POST", "presentations"): self.create_presentation,
            ("GET", "presentations/*/qr.png"): self.qr_png,
            ("GET", "presentations/*/qr.svg"): self.qr_svg,
            ("POST", "verifications"): self.verify,
            ("POST", "consents"): self.grant_consent,
            ("GET", "consents"): self.list_consents,
            ("DELETE", "consents/*"): self.withdraw_consent,
        }

    async def _not_found(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        raise Refusal(NOT_FOUND, "The e-license service has no such operation.")

    @staticmethod
    def _body(request: UpstreamRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise Refusal(BAD_REQUEST, "The body is not JSON.") from None
        if not isinstance(body, dict):
            raise Refusal(BAD_REQUEST, "The body is not a JSON object.")
        return body

    @staticmethod
    def _number(values: dict[str, Any], name: str, default: int, least: int, most: int) -> int:
        """An integer parameter within bounds (the gateway validated it against the document;
        checked again here so a looser document cannot make the connector fail)."""
        raw = values.get(name, default)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = least - 1
        if not least <= number <= most:
            raise Refusal(VALIDATION_FAILED, f"{name} is an integer from {least} to {most}.")
        return number

    @staticmethod
    def _query(request: UpstreamRequest) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}

    # -- who is calling ---------------------------------------------------------------------

    @staticmethod
    def _facts(request: UpstreamRequest) -> CallerFacts:
        if request.caller is None:
            raise Refusal(
                SERVICE_MISCONFIGURED, "The gateway did not say who is calling this e-license call."
            )
        return request.caller

    def _resident(self, request: UpstreamRequest) -> CallerFacts:
        facts = self._facts(request)
        if facts.person_id is None:
            raise Refusal(
                RESIDENT_REQUIRED,
                "Only a resident can do this with their licenses: use a resident's access token.",
            )
        if facts.id_number is None:
            raise Refusal(
                SERVICE_MISCONFIGURED,
                f"{self.config.service} must be classified personal or sensitive: the gateway"
                " decides whose licenses these are from the verified ID number.",
            )
        if facts.assurance < HOLDER_ASSURANCE:
            # Not the service's min_assurance: verifiers, departments and consented clients call
            # it with their own tokens, which carry no assurance.
            raise Refusal(
                STEP_UP,
                f"Acting on licenses needs a resident's token of assurance {HOLDER_ASSURANCE} or"
                f" more (verified by a partner app or in person at a service counter); this one"
                f" has {facts.assurance}: a registration here checks only the ID number's form.",
                {
                    "required_assurance": HOLDER_ASSURANCE,
                    "assurance": facts.assurance,
                    "step_up": True,
                },
            )
        return facts

    @staticmethod
    def _role(request: UpstreamRequest, role: str) -> CallerFacts:
        facts = ElicenseConnector._facts(request)
        if role not in facts.roles:
            raise Refusal(
                ROLE_REQUIRED,
                f"This needs a client token of the role {role}.",
                {"required_role": role},
            )
        return facts

    async def _holder(self, session: AsyncSession, facts: CallerFacts) -> Holder:
        """The resident, or the legal person their token acts for."""
        assert facts.id_number is not None
        if facts.acting_for is not None:
            firm = await session.get(LegalPerson, facts.acting_for)
            if firm is not None:
                return Holder("legal_person", firm.uscc, facts.person_id, firm.id)
        return Holder("person", facts.id_number, facts.person_id, None)

    @staticmethod
    def _holds(facts: CallerFacts, holder: Holder | None, record: dict[str, Any]) -> bool:
        code = mapping.text(record, "czztdm")
        if mapping.holder_kind(record) == "person":
            return facts.id_number is not None and code.upper() == facts.id_number.upper()
        return holder is not None and holder.kind == "legal_person" and code == holder.code

    # -- license types ----------------------------------------------------------------------

    async def list_types(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        query = self._query(request)
        body: dict[str, Any] = {
            "pageNo": self._number(query, "page", 1, 1, 100_000),
            "pageSize": self._number(query, "pageSize", 20, 1, 100),
        }
        kind = query.get("holderKind")
        if kind:
            if kind not in mapping.HOLDER_KIND_CODES:
                raise Refusal(
                    VALIDATION_FAILED,
                    "holderKind is person or legal_person.",
                    {
                        "errors": [
                            {"pointer": "/query/holderKind", "detail": "person or legal_person"}
                        ]
                    },
                )
            body["czztlx"] = mapping.HOLDER_KIND_CODES[kind]
        answer = await self._registry(request, reg.TYPES, body)
        if not answer.ok:
            raise self._refused(answer)
        page = answer.data
        if not isinstance(page, dict) or not isinstance(page.get("list"), list):
            raise mapping.BadRegistryData("The e-license registry sent a page without its list.")
        return json_answer(
            200,
            {
                "total": page.get("total"),
                "page": page.get("pageNo"),
                "pageSize": page.get("pageSize"),
                "items": [mapping.license_type(t) for t in page["list"]],
            },
        )

    async def all_types(self, request: UpstreamRequest) -> list[dict[str, Any]]:
        """Every license type the registry lists (cached a few minutes: consents name types)."""
        async with self._types_lock:
            now = time.monotonic()
            if self._types is not None and now - self._types[0] < TYPE_CACHE_S:
                return self._types[1]
            found: list[dict[str, Any]] = []
            page = 1
            while True:
                answer = await self._registry(
                    request, reg.TYPES, {"pageNo": page, "pageSize": _TYPE_PAGE}
                )
                data = answer.data if answer.ok else None
                if not isinstance(data, dict) or not isinstance(data.get("list"), list):
                    raise mapping.BadRegistryData("The e-license registry sent no type list.")
                found += [mapping.license_type(t) for t in data["list"]]
                total = data.get("total")
                if not data["list"] or not isinstance(total, int) or len(found) >= total:
                    break
                page += 1
            self._types = (now, found)
            return found

    async def license_type_count(self) -> int:
        """How many license types the registry lists (for the 200-type target): one call, signed
        with the gateway's own assertion since no caller is behind it."""
        host = self._host()
        manager = host.identity()
        assertion = issue_assertion(
            manager.state.keyring,
            issuer=host.settings.resolved_issuer,
            audience=self.config.service,
            subject="xyb-gateway",
            client_id="xyb-gateway",
            id_number=None,
            ttl_seconds=60,
        )
        answer = await self.registry.call(
            reg.TYPES,
            {"pageNo": 1, "pageSize": 1},
            headers=[(ASSERTION_HEADER, assertion)],
            timeout=10.0,
        )
        total = answer.data.get("total") if answer.ok and isinstance(answer.data, dict) else None
        if not isinstance(total, int) or total < 0:
            raise mapping.BadRegistryData(
                f"The e-license registry did not say how many types it holds ({answer.code})."
            )
        return total

    # -- licenses ---------------------------------------------------------------------------

    async def list_mine(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        async with self._host().sessionmaker() as session:
            holder = await self._holder(session, facts)
        query = self._query(request)
        body: dict[str, Any] = {
            "czztdm": holder.code,
            "czztdmlx": mapping.HOLDER_CODE_KIND_OF[holder.kind],
        }
        if query.get("type"):
            body["zzlxdm"] = query["type"]
        answer = await self._registry(request, reg.HOLDER, body)
        if not answer.ok:
            raise self._refused(answer)
        records = answer.data.get("list") if isinstance(answer.data, dict) else answer.data
        if not isinstance(records, list):
            raise mapping.BadRegistryData("The e-license registry sent no license list.")
        today = self._today()
        items = [mapping.license_view(r, today, with_data=False) for r in records]
        status = query.get("status")
        if status:
            items = [i for i in items if i["status"] == status]
        return json_answer(200, {"holder": {"kind": holder.kind}, "items": items})

    @staticmethod
    def _license_id(value: str, pointer: str = "/path/licenseId") -> str:
        """``value`` when it is a valid GB/T 36904 identifier; else 422 naming what is wrong."""
        if not (value.isascii() and value.isprintable()):
            # Not echoed: a bidirectional or control character would rearrange the message.
            reasons = ["an e-license identifier is printable ASCII (digits, A-Z and dots)"]
        else:
            reasons = validate_license_id(value)
        if reasons:
            raise Refusal(
                BAD_LICENSE_ID,
                f"{'; '.join(reasons)}.",
                {"errors": [{"pointer": pointer, "detail": r} for r in reasons]},
            )
        return value

    @staticmethod
    def _refused(answer: reg.RegistryAnswer) -> Refusal:
        """The registry's refusal (1xxx, 2xxx) in the canonical API's words."""
        if answer.code == reg.UNKNOWN_TYPE:
            return Refusal(
                LICENSE_REFUSED,
                "The registry lists no license type with this code.",
                {"errors": [{"pointer": "", "detail": "unknown license type"}]},
            )
        # The registry's words may quote what was sent: only printable characters pass.
        said = "".join(c if c.isprintable() else "?" for c in answer.message)
        return Refusal(
            LICENSE_REFUSED,
            f"The registry refused it: {said}",
            {"errors": [{"pointer": "/body", "detail": said}]},
        )

    async def _detail(
        self, request: UpstreamRequest, license_id: str, *, holder_only: bool = False
    ) -> dict[str, Any]:
        answer = await self._registry(request, reg.DETAIL, {"zzbs": license_id})
        if answer.code == reg.NO_SUCH_LICENSE:
            raise Refusal(
                LICENSE_NOT_FOUND,
                "You hold no license with this identifier."
                if holder_only
                else "The registry holds no license with this identifier.",
            )
        if not answer.ok:
            raise self._refused(answer)
        if not isinstance(answer.data, dict):
            raise mapping.BadRegistryData("The e-license registry sent no license.")
        return answer.data

    async def get_license(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        license_id = self._license_id(params[0])
        facts = self._facts(request)
        host = self._host()
        today = self._today()
        if facts.person_id is not None:
            # A resident's token acts for that resident alone, whichever app it came through:
            # consents are given to a client and used with the client's own token, or every user
            # of an app a resident consented to could read that resident's licenses.
            resident = self._resident(request)
            async with host.sessionmaker() as session:
                holder = await self._holder(session, resident)
            record = await self._detail(request, license_id, holder_only=True)
            if not self._holds(resident, holder, record):
                # 404, as for an identifier the registry does not hold: a resident learns
                # nothing of which licenses others hold.
                raise Refusal(LICENSE_NOT_FOUND, "You hold no license with this identifier.")
            return json_answer(200, mapping.license_view(record, today, with_data=True))
        async with host.sessionmaker() as session:
            type_code = parse_license_id(license_id).license_type_code
            await self._may_read_type(session, facts, type_code, today)
            try:
                record = await self._detail(request, license_id)
            except Refusal as refused:
                if refused.problem is not LICENSE_NOT_FOUND:
                    raise
                # The same answer as a holder who has not consented: a client with a consent
                # for the type must not learn which licenses of it exist.
                raise self._no_consent(facts) from None
            read = await self._consented_read(session, facts, record, today)
        view = mapping.license_view(record, today, with_data=True)
        answer = json_answer(200, view)
        answer.personal_read = read
        return answer

    @staticmethod
    def _no_consent(facts: CallerFacts) -> Refusal:
        return Refusal(
            CONSENT_REQUIRED,
            f"No live consent of this license's holder lets the client {facts.client_id} read it"
            " for this purpose (or the registry holds no such license).",
        )

    async def _may_read_type(
        self, session: AsyncSession, facts: CallerFacts, type_code: str, today: date
    ) -> None:
        if facts.purpose is None:
            raise Refusal(
                CONSENT_REQUIRED,
                "Reading someone else's license needs the holder's consent and the purpose it was"
                " given for: send Xyb-Purpose.",
            )
        if not await consents.any_live(
            session,
            client_id=facts.client_id,
            license_type=type_code,
            purpose=facts.purpose,
            today=today,
        ):
            raise Refusal(
                CONSENT_REQUIRED,
                f"No holder's live consent lets the client {facts.client_id} read licenses of the"
                f" type {type_code} for this purpose.",
            )

    async def _consented_read(
        self,
        session: AsyncSession,
        facts: CallerFacts,
        record: dict[str, Any],
        today: date,
    ) -> PersonalRead | None:
        assert facts.purpose is not None
        host = self._host()
        code = mapping.text(record, "czztdm")
        person_id = legal_person_id = None
        if mapping.holder_kind(record) == "person":
            if is_valid_resident_id(code):
                cipher = host.identity().cipher
                person_id = await session.scalar(
                    select(Person.id).where(
                        Person.id_number_hash
                        == cipher.lookup_hash(normalise_resident_id(code), purpose="id_number")
                    )
                )
        else:
            legal_person_id = await session.scalar(
                select(LegalPerson.id).where(LegalPerson.uscc == code)
            )
        consent = await consents.live_for(
            session,
            client_id=facts.client_id,
            license_type=mapping.text(record, "zzlxdm"),
            purpose=facts.purpose,
            today=today,
            person_id=person_id,
            legal_person_id=legal_person_id,
        )
        if consent is None:
            raise self._no_consent(facts)
        if person_id is None:
            return None  # a legal person's license: no resident's personal data
        return PersonalRead(person_id, facts.purpose, LICENSE_READ)

    def _department(self, request: UpstreamRequest) -> str:
        """The division a department client issues and revokes within (its own, as the admin
        gave it; a department client without one acts for nobody)."""
        facts = self._role(request, DEPARTMENT)
        if facts.division is None:
            raise Refusal(
                ROLE_REQUIRED,
                "A department client needs its division (GB/T 2260, given when the client is"
                " created): it issues and revokes only licenses of issuers within it.",
                {"required_role": DEPARTMENT},
            )
        return facts.division

    @staticmethod
    def _jurisdiction(division: str, issuer_segment: str) -> None:
        # The issuer segment is a division code, or a credit code whose 3rd-8th characters are
        # its registering division.
        place = issuer_segment if len(issuer_segment) == 6 else issuer_segment[2:8]
        if not contains(division, place):
            raise Refusal(
                ROLE_REQUIRED,
                f"This department issues and revokes licenses of issuers within {division};"
                " this license's issuer is outside it.",
                {"required_role": DEPARTMENT, "division": division},
            )

    @staticmethod
    def _text(value: object, pointer: str, longest: int = 200) -> str:
        """A text a department writes into a license: shown to holders and verifiers as it is,
        so printable only (no control or bidirectional characters) and bounded."""
        text = str(value if value is not None else "").strip()
        if not text or len(text) > longest or not text.isprintable():
            raise Refusal(
                VALIDATION_FAILED,
                f"{pointer.rsplit('/', 1)[-1]} is 1 to {longest} printable characters (no control"
                " or invisible formatting characters).",
                {"errors": [{"pointer": pointer, "detail": "not printable text"}]},
            )
        return text

    async def issue(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        division = self._department(request)
        body = self._body(request)
        license_id = self._license_id(str(body.get("licenseId", "")), "/body/licenseId")
        self._jurisdiction(division, parse_license_id(license_id).issuer_code)
        holder = body.get("holder") or {}
        kind, code = str(holder.get("kind", "")), str(holder.get("code", ""))
        problems = validate_resident_id(code) if kind == "person" else validate_uscc(code)
        if problems:
            raise Refusal(
                VALIDATION_FAILED,
                f"The holder's code is not valid: {'; '.join(problems)}.",
                {"errors": [{"pointer": "/body/holder/code", "detail": p} for p in problems]},
            )
        holder_name = self._text(holder.get("name"), "/body/holder/name")
        issuer_name = self._text((body.get("issuer") or {}).get("name"), "/body/issuer/name")
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise Refusal(
                VALIDATION_FAILED,
                "data is an object of text values.",
                {"errors": [{"pointer": "/body/data", "detail": "an object of text values"}]},
            )
        items = {
            self._text(key, "/body/data", 64): self._text(value, f"/body/data/{key}", 2000)
            for key, value in data.items()
        }
        try:
            valid_from = date.fromisoformat(str(body.get("validFrom")))
            until_text = body.get("validUntil")
            valid_until = None if until_text is None else date.fromisoformat(str(until_text))
            issued_text = body.get("issuedOn")
            issued_on = valid_from if issued_text is None else date.fromisoformat(str(issued_text))
        except ValueError:
            raise Refusal(
                VALIDATION_FAILED,
                "Dates are yyyy-mm-dd.",
                {"errors": [{"pointer": "/body", "detail": "dates are yyyy-mm-dd"}]},
            ) from None
        if valid_until is not None and valid_until < valid_from:
            raise Refusal(
                VALIDATION_FAILED,
                "validUntil is before validFrom.",
                {"errors": [{"pointer": "/body/validUntil", "detail": "before validFrom"}]},
            )
        answer = await self._registry(
            request,
            reg.ISSUE,
            {
                "zzbs": license_id,
                "czzt": holder_name,
                "czztdm": code,
                "czztdmlx": mapping.HOLDER_CODE_KIND_OF.get(kind, ""),
                "bfjg": issuer_name,
                "bfrq": mapping.to_ymd(issued_on),
                "yxqq": mapping.to_ymd(valid_from),
                "yxqz": mapping.to_ymd(valid_until),
                "zzsj": items,
            },
        )
        if answer.code == reg.ALREADY_EXISTS:
            raise Refusal(LICENSE_CONFLICT, "A license with this identifier was issued already.")
        if not answer.ok:
            raise self._refused(answer)
        return json_answer(201, mapping.license_view(answer.data, self._today(), with_data=True))

    async def revoke(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        division = self._department(request)
        license_id = self._license_id(params[0])
        reason = self._text(self._body(request).get("reason"), "/body/reason")
        record = await self._detail(request, license_id)
        self._jurisdiction(division, mapping.text(record, "bfjgdm"))
        answer = await self._registry(request, reg.REVOKE, {"zzbs": license_id, "zxyy": reason})
        if answer.code == reg.NO_SUCH_LICENSE:
            raise Refusal(LICENSE_NOT_FOUND, "The registry holds no license with this identifier.")
        if answer.code == reg.STATUS_FORBIDS:
            raise Refusal(LICENSE_CONFLICT, "The license is revoked already.")
        if not answer.ok:
            raise self._refused(answer)
        return json_answer(200, mapping.license_view(answer.data, self._today(), with_data=True))

    # -- presentations ----------------------------------------------------------------------

    def _mac(self) -> presentations.MacOf:
        cipher = self._host().identity().cipher
        return presentations.mac_with(
            lambda value: cipher.lookup_hash(value, purpose="license-presentation")
        )

    async def create_presentation(
        self, request: UpstreamRequest, params: list[str]
    ) -> UpstreamResponse:
        facts = self._resident(request)
        assert facts.person_id is not None
        body = self._body(request)
        license_id = self._license_id(str(body.get("licenseId", "")), "/body/licenseId")
        host = self._host()
        today = self._today()
        async with host.sessionmaker() as session:
            holder = await self._holder(session, facts)
        record = await self._detail(request, license_id)
        if not self._holds(facts, holder, record):
            # As for a license the registry does not hold: identifiers embed ID numbers, and a
            # 403 here would tell who holds a license.
            raise Refusal(LICENSE_NOT_FOUND, "You hold no license with this identifier.")
        status = mapping.status_of(record, today)
        if status != "valid":
            raise Refusal(
                LICENSE_CONFLICT,
                f"The license is {status}: only a valid license can be presented.",
                {"licenseStatus": status},
            )
        claims = self._disclosable(record, today)
        wanted = body.get("disclose")
        if wanted is not None and not isinstance(wanted, list):
            raise Refusal(
                VALIDATION_FAILED,
                "disclose is a list of field names.",
                {"errors": [{"pointer": "/body/disclose", "detail": "a list of field names"}]},
            )
        chosen = list(claims) if wanted is None else list(dict.fromkeys(str(n) for n in wanted))
        unknown = [name for name in chosen if name not in claims]
        if unknown:
            raise Refusal(
                VALIDATION_FAILED,
                f"This license has no field {', '.join(unknown)}; it can disclose:"
                f" {', '.join(claims)}.",
                {
                    "errors": [
                        {"pointer": "/body/disclose", "detail": f"no field {name}"}
                        for name in unknown
                    ],
                    "disclosable": list(claims),
                },
            )
        ttl = self._number(body, "ttlSeconds", presentations.DEFAULT_TTL_S, 30, 3600)
        single_use = bool(body.get("singleUse", True))
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl)
        presentation_id = presentations.new_id()
        manager = host.identity()
        issuer_jwt, disclosures = sdjwt.issue(
            manager.state.keyring.signing_key,
            visible={
                "iss": host.settings.resolved_issuer,
                "iat": int(now.timestamp()),
                "exp": math.ceil(expires.timestamp()),
                "jti": presentation_id,
                "vct": "urn:xyb:elicense:" + mapping.text(record, "zzlxdm"),
                # camelCase: a license type's field names are snake_case, so no data item can
                # collide with these always-visible claims.
                "licenseType": mapping.text(record, "zzlxmc"),
                "trustLevel": mapping.text(record, "kxdj"),
                "validUntil": mapping.license_view(record, today, with_data=False)["validUntil"],
            },
            disclosable=claims,
        )
        presented = sdjwt.present(issuer_jwt, disclosures, chosen)
        kind = mapping.holder_kind(record)
        masked = mapping.masked_holder(
            kind, mapping.text(record, "czzt"), mapping.text(record, "czztdm")
        )
        async with host.sessionmaker.begin() as session:
            session.add(
                LicensePresentation(
                    id=presentation_id,
                    license_id=license_id,
                    person_id=facts.person_id,
                    sd_jwt=presented,
                    holder_masked=json.dumps(masked, ensure_ascii=False),
                    disclosed=",".join(chosen),
                    single_use=single_use,
                    created_at=now,
                    expires_at=expires,
                )
            )
        text = presentations.reference(presentation_id, self._mac())
        base = f"{self.prefix}/presentations/{presentation_id}"
        return json_answer(
            201,
            {
                "id": presentation_id,
                "text": text,
                "licenseId": license_id,
                "expiresAt": expires.isoformat(),
                "singleUse": single_use,
                "disclosed": chosen,
                "qr": {
                    "png": f"{base}/qr.png",
                    "svg": f"{base}/qr.svg",
                    "version": qr.version(text),
                },
            },
        )

    @staticmethod
    def _disclosable(record: dict[str, Any], today: date) -> dict[str, Any]:
        """What a presentation can disclose: the holder, the license number and every data item,
        and for a person's license with a birth date, whether they are over 18 and over 60
        (mDL's age_over_NN: the verifier learns the answer, not the date)."""
        claims: dict[str, Any] = {
            "holder_name": mapping.text(record, "czzt"),
            "holder_code": mapping.text(record, "czztdm"),
            "license_id": mapping.text(record, "zzbs"),
            "license_number": mapping.text(record, "zzbh"),
        }
        data = record.get("zzsj")
        if isinstance(data, dict):
            claims.update({k: v for k, v in data.items() if isinstance(v, str) and k not in claims})
        birth: date | None = None
        raw = claims.get("birth_date")
        if isinstance(raw, str):
            try:
                birth = date.fromisoformat(raw)
            except ValueError:
                birth = None
        if birth is None and mapping.holder_kind(record) == "person":
            birth = resident_birth_date(claims["holder_code"])
        if birth is not None:
            claims["age_over_18"] = _adult(birth, today, 18)
            claims["age_over_60"] = _adult(birth, today, 60)
        return claims

    async def _own_presentation(
        self, request: UpstreamRequest, presentation_id: str
    ) -> LicensePresentation:
        facts = self._resident(request)
        async with self._host().sessionmaker() as session:
            found = await presentations.find(session, presentation_id[:64])
        if found is None or found.person_id != facts.person_id:
            raise Refusal(PRESENTATION_NOT_FOUND, "You have no presentation with this id.")
        if found.expires_at <= datetime.now(UTC):
            raise Refusal(PRESENTATION_GONE, "This presentation has expired: make a new one.")
        return found

    async def qr_png(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        found = await self._own_presentation(request, params[0])
        return self._image(qr.png(presentations.reference(found.id, self._mac())), "image/png")

    async def qr_svg(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        found = await self._own_presentation(request, params[0])
        text = presentations.reference(found.id, self._mac())
        return self._image(qr.svg(text), "image/svg+xml")

    @staticmethod
    def _image(content: bytes, media_type: str) -> UpstreamResponse:
        return UpstreamResponse(
            status=200,
            headers=[("content-type", media_type), ("cache-control", "no-store")],
            body=content,
            declared_length=len(content),
        )

    async def verify(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._role(request, VERIFIER)
        text = str(self._body(request).get("text", ""))[: presentations.MAX_TEXT_CHARS]
        host = self._host()
        now = datetime.now(UTC)
        checked = {"checkedAt": now.isoformat()}

        def invalid(reason: str, detail: str) -> UpstreamResponse:
            return json_answer(200, {"valid": False, "reason": reason, "detail": detail, **checked})

        scanned = presentations.read_text(text, self._mac())
        if scanned.presentation_id is None:
            return invalid(scanned.reason or "bad-signature", scanned.detail or "")
        async with host.sessionmaker() as session:
            found = await presentations.find(session, scanned.presentation_id)
        if found is None:
            return invalid(
                "unknown-reference", "No presentation has this reference (it may have been purged)."
            )
        if found.expires_at <= now:
            return invalid(
                "expired", f"The presentation expired at {found.expires_at.isoformat()}."
            )
        if found.single_use and found.used_at is not None:
            return invalid("already-used", "This single-use presentation was already checked.")
        manager = host.identity()
        try:
            verified = sdjwt.verify(found.sd_jwt, manager.state.keyring.get)
        except sdjwt.SdJwtInvalid as exc:
            return invalid(
                "bad-signature", f"The presentation's SD-JWT does not verify: {exc.reason}."
            )
        record = await self._detail(request, found.license_id)
        status = mapping.status_of(record, self._today())
        if status == "revoked":
            return invalid("license-revoked", "The license was revoked (注销).")
        if status == "expired":
            return invalid("license-expired", "The license's validity has ended.")
        if status == "pending":
            return invalid("license-not-yet-valid", "The license's validity has not begun.")
        if found.single_use:
            async with host.sessionmaker.begin() as session:
                if not await presentations.claim(session, found.id, now):
                    return invalid(
                        "already-used", "This single-use presentation was already checked."
                    )
        answer = json_answer(
            200,
            {
                "valid": True,
                "detail": "The presentation is valid: the license is valid at the registry now.",
                **checked,
                "license": {
                    "type": {
                        "code": mapping.text(record, "zzlxdm"),
                        "name": mapping.text(record, "zzlxmc"),
                    },
                    "holder": json.loads(found.holder_masked),
                    "validUntil": verified.claims.get("validUntil"),
                    "status": status,
                    "trustLevel": mapping.text(record, "kxdj"),
                },
                "disclosed": verified.disclosed,
                "sdJwt": found.sd_jwt,
                "expiresAt": found.expires_at.isoformat(),
            },
        )
        answer.personal_read = PersonalRead(
            found.person_id,
            facts.purpose or "扫码亮证: a verifier checked a presentation",
            PRESENTATION_READ,
        )
        return answer

    # -- consents ---------------------------------------------------------------------------

    async def grant_consent(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        assert facts.person_id is not None
        body = self._body(request)
        host = self._host()
        today = self._today()
        client_id = str(body.get("clientId", ""))
        client = host.identity().state.clients.get(client_id)
        if client is None:
            raise Refusal(
                VALIDATION_FAILED,
                f"No client {client_id!r} is registered with the gateway.",
                {"errors": [{"pointer": "/body/clientId", "detail": "unknown client"}]},
            )
        division, slug = self.config.service.split("/", 1)
        if not client.may_call(division, slug, "getLicense"):
            # A consent it could never use would only sit in the holder's list.
            raise Refusal(
                VALIDATION_FAILED,
                f"The client {client_id} holds no grant to read licenses (getLicense of"
                f" {self.config.service}): a consent to it could never be used.",
                {"errors": [{"pointer": "/body/clientId", "detail": "no getLicense grant"}]},
            )
        type_code = str(body.get("licenseType", ""))
        known = {t["code"]: t for t in await self.all_types(request)}
        kind = known.get(type_code)
        if kind is None:
            raise Refusal(
                VALIDATION_FAILED,
                f"The registry lists no license type {type_code}.",
                {"errors": [{"pointer": "/body/licenseType", "detail": "unknown license type"}]},
            )
        try:
            until = date.fromisoformat(str(body.get("until")))
        except ValueError:
            raise Refusal(
                VALIDATION_FAILED,
                "until is a date, yyyy-mm-dd.",
                {"errors": [{"pointer": "/body/until", "detail": "a date, yyyy-mm-dd"}]},
            ) from None
        latest = consents.latest_until(today)
        if until < today or until > latest:
            raise Refusal(
                VALIDATION_FAILED,
                f"until must be between today ({today.isoformat()}) and {latest.isoformat()}"
                f" ({consents.LONGEST_YEARS} years).",
                {"errors": [{"pointer": "/body/until", "detail": "out of range"}]},
            )
        purpose = str(body.get("purpose", "")).strip()
        if not purpose or not purpose.isprintable():
            raise Refusal(
                VALIDATION_FAILED,
                "purpose is 1 to 200 printable characters.",
                {
                    "errors": [
                        {"pointer": "/body/purpose", "detail": "1 to 200 printable characters"}
                    ]
                },
            )
        async with host.sessionmaker.begin() as session:
            # Read, then write: on SQLite the write lock first (app.core.db.SQLITE_BEGIN).
            await take_write_lock(session)
            holder = await self._holder(session, facts)
            if (kind["holderKind"] == "legal_person") != (holder.kind == "legal_person"):
                raise Refusal(
                    VALIDATION_FAILED,
                    f"{kind['name']} is held by a {kind['holderKind'].replace('_', ' ')}: consent"
                    + (
                        " for it while acting for the legal person."
                        if kind["holderKind"] == "legal_person"
                        else " for it with your own token, not while acting for a legal person."
                    ),
                )
            consent, new = await consents.grant(
                session,
                person_id=facts.person_id if holder.kind == "person" else None,
                legal_person_id=holder.legal_person_id,
                granted_by=facts.person_id,
                client_id=client_id,
                license_type=type_code,
                purpose=purpose,
                until=until,
                today=today,
            )
            view = consents.view(consent, kind["name"])
        return json_answer(201 if new else 200, view)

    async def list_consents(self, request: UpstreamRequest, params: list[str]) -> UpstreamResponse:
        facts = self._resident(request)
        host = self._host()
        async with host.sessionmaker() as session:
            holder = await self._holder(session, facts)
            rows = await consents.of_holder(
                session,
                person_id=facts.person_id if holder.kind == "person" else None,
                legal_person_id=holder.legal_person_id,
            )
        names = await self._type_names(request)
        return json_answer(
            200, {"items": [consents.view(c, names.get(c.license_type)) for c in rows]}
        )

    async def withdraw_consent(
        self, request: UpstreamRequest, params: list[str]
    ) -> UpstreamResponse:
        facts = self._resident(request)
        host = self._host()
        async with host.sessionmaker.begin() as session:
            # Read, then write: on SQLite the write lock first (app.core.db.SQLITE_BEGIN).
            await take_write_lock(session)
            holder = await self._holder(session, facts)
            consent = await consents.withdraw(
                session,
                params[0][:64],
                person_id=facts.person_id if holder.kind == "person" else None,
                legal_person_id=holder.legal_person_id,
            )
            if consent is None:
                raise Refusal(CONSENT_NOT_FOUND, "You have no consent with this id.")
        return json_answer(
            200, consents.view(consent, (await self._type_names(request)).get(consent.license_type))
        )

    async def _type_names(self, request: UpstreamRequest) -> dict[str, str]:
        """License type names by code; empty when the registry cannot say (the names are a
        courtesy: consents are the gateway's own)."""
        try:
            return {t["code"]: t["name"] for t in await self.all_types(request)}
        except Exception:
            log.warning("license type names unavailable")
            return {}


def create(config: ConnectorConfig) -> ElicenseConnector:
    """Entry point ``xyb.connectors: elicense``."""
    return ElicenseConnector(config)
