"""Onboarding: from a submitted OpenAPI document to a plan, and from a plan to stored services.

Every problem with a submission (metadata, upstream URL, document, bindings) is collected and
reported at once, each with a JSON pointer into the request (``/body/document/paths/...``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.registry import ConnectorRegistry
from app.contracts.breaks import Break, find_breaks
from app.contracts.model import Contract, ContractFileError, parse_contract
from app.contracts.static import check_contract
from app.core.config import Settings
from app.core.divisions import division as known_division
from app.core.errors import Conflict, GatewayError, ValidationFailed, register_problem_type
from app.identity.crypto import DataCipher
from app.models.service import (
    GatewayState,
    Operation,
    Service,
    ServiceContract,
    ServiceStatus,
    ServiceVersion,
)
from app.schemas.services import ServiceIn
from app.services.openapi import (
    Analysis,
    DocProblem,
    DocumentRefused,
    OperationSpec,
    analyse,
    parse_document,
)
from app.services.upstream_policy import UpstreamPolicy, UpstreamURLRefused, gateway_itself

DOCUMENT_POINTER = "/body/document"
UPSTREAM_AUTH_CONTEXT = "service.upstream_auth"
log = logging.getLogger("xyb.onboarding")

CONTRACT_BROKEN = register_problem_type(
    "contract-broken",
    409,
    "A recorded contract would break",
    "The new version of the document breaks a contract recorded with the service (an operation"
    " removed, a field the contract relies on removed or retyped, a newly required request field)."
    " breaks lists each one; force=true publishes it anyway, and the override is logged.",
)


class ContractBroken(GatewayError):
    problem = CONTRACT_BROKEN


@dataclass(frozen=True, slots=True)
class PlannedOperation:
    method: str
    path: str
    operation_id: str
    summary: str | None
    item_code: str | None
    item_source: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    timeout_s: float
    retries: int
    breaker_threshold: int
    breaker_cooldown_s: float
    max_concurrency: int


@dataclass(frozen=True)
class SubmittedContract:
    contract: Contract
    content: str  # as submitted (YAML or JSON text)


@dataclass(frozen=True)
class Plan:
    """What the gateway will expose for a submission; saved as-is unless it is a dry run."""

    spec: ServiceIn
    division_name: str
    upstream_url: str
    openapi_version: str
    document: dict[str, Any]
    document_sha256: str
    operations: list[PlannedOperation]
    warnings: list[DocProblem]
    policy: Policy
    contracts: list[SubmittedContract]


def _error(pointer: str, detail: str) -> dict[str, str]:
    return {"pointer": pointer, "detail": detail}


def _document_bytes(document: str | dict[str, Any]) -> tuple[bytes, str | None]:
    if isinstance(document, str):
        return document.encode("utf-8"), None
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8"), "application/json"


def _policy(spec: ServiceIn, settings: Settings) -> Policy:
    return Policy(
        timeout_s=spec.timeout_s if spec.timeout_s is not None else settings.upstream_timeout,
        retries=spec.retries if spec.retries is not None else settings.upstream_retries,
        breaker_threshold=(
            spec.breaker_threshold
            if spec.breaker_threshold is not None
            else settings.breaker_threshold
        ),
        breaker_cooldown_s=(
            spec.breaker_cooldown_s
            if spec.breaker_cooldown_s is not None
            else settings.breaker_cooldown
        ),
        max_concurrency=(
            spec.max_concurrency
            if spec.max_concurrency is not None
            else settings.upstream_max_concurrency
        ),
    )


def _bind(
    operations: Sequence[OperationSpec], spec: ServiceIn, errors: list[dict[str, str]]
) -> tuple[list[PlannedOperation], list[DocProblem]]:
    by_name: dict[str, OperationSpec] = {}
    for op in operations:
        by_name[op.operation_id] = op
        by_name[f"{op.method} {op.path}"] = op
    explicit: dict[str, str] = {}
    for index, binding in enumerate(spec.bindings):
        target = by_name.get(binding.operation.strip()) or by_name.get(
            _normalise_method(binding.operation.strip())
        )
        if target is None:
            errors.append(
                _error(
                    f"/body/bindings/{index}/operation",
                    f"no operation {binding.operation!r} in the document (use an operationId or"
                    " 'METHOD /path')",
                )
            )
            continue
        previous = explicit.get(target.operation_id)
        if previous is not None and previous != binding.item:
            errors.append(
                _error(
                    f"/body/bindings/{index}/item",
                    f"{target.operation_id} is already bound to {previous!r} by an earlier entry",
                )
            )
            continue
        explicit[target.operation_id] = binding.item
    warnings: list[DocProblem] = []
    planned: list[PlannedOperation] = []
    for op in operations:
        item, source = op.item_code, ("x-xyb-item" if op.item_code else None)
        bound = explicit.get(op.operation_id)
        if bound is not None:
            if item is not None and item != bound:
                warnings.append(
                    DocProblem(
                        op.pointer,
                        f"x-xyb-item {item!r} of {op.operation_id} is overridden by the bindings"
                        f" list ({bound!r})",
                    )
                )
            item, source = bound, "bindings"
        planned.append(
            PlannedOperation(op.method, op.path, op.operation_id, op.summary, item, source)
        )
    return planned, warnings


def _normalise_method(text: str) -> str:
    method, _, path = text.partition(" ")
    return f"{method.upper()} {path.strip()}"


def build_plan(spec: ServiceIn, settings: Settings, registry: ConnectorRegistry) -> Plan:
    """Check a submission completely; raise :class:`ValidationFailed` listing every problem."""
    errors: list[dict[str, str]] = []
    division = known_division(spec.division)
    if division is None:
        errors.append(
            _error(
                "/body/division",
                f"{spec.division} is not a known division: use 430000, a prefecture or county of"
                " Hunan (GB/T 2260), or a partner province (440000, 310000, 360000)",
            )
        )
    if spec.connector not in registry.names:
        errors.append(
            _error(
                "/body/connector",
                f"no connector {spec.connector!r} is installed (installed:"
                f" {', '.join(registry.names)})",
            )
        )

    raw, content_type = _document_bytes(spec.document)
    sha256 = hashlib.sha256(raw).hexdigest()
    analysis: Analysis | None = None
    try:
        parsed = parse_document(
            raw,
            content_type=content_type,
            max_bytes=int(settings.onboard_max_document),
            max_depth=settings.onboard_max_depth,
        )
    except DocumentRefused as refused:
        errors.extend(_error(DOCUMENT_POINTER + p.pointer, p.message) for p in refused.problems)
        parsed = None
    if parsed is not None:
        analysis = analyse(parsed)
        errors.extend(_error(DOCUMENT_POINTER + p.pointer, p.message) for p in analysis.problems)

    upstream_url = spec.upstream_url
    if upstream_url is None and analysis is not None:
        absolute = [s for s in analysis.servers if s.startswith(("http://", "https://"))]
        upstream_url = absolute[0] if absolute else None
        if upstream_url is None:
            errors.append(
                _error(
                    "/body/upstream_url",
                    "no upstream URL was given and the document has no absolute server URL",
                )
            )
    upstream_warnings: list[DocProblem] = []
    if upstream_url is not None:
        try:
            upstream_url = UpstreamPolicy.parse(settings.upstream_allowlist).normalise(upstream_url)
        except UpstreamURLRefused as refused:
            errors.append(_error("/body/upstream_url", str(refused)))
        else:
            upstream_warnings = _upstream_warnings(upstream_url, settings)

    planned: list[PlannedOperation] = []
    warnings: list[DocProblem] = []
    contracts: list[SubmittedContract] = []
    if analysis is not None and not analysis.problems:
        planned, warnings = _bind(analysis.operations, spec, errors)
        assert parsed is not None
        warnings.extend(_division_warnings(parsed, spec.division))
        if not planned:
            errors.append(_error(DOCUMENT_POINTER + "/paths", "the document has no operations"))
        contracts = _check_contracts(spec, parsed, errors)

    if errors:
        count = len(errors)
        raise ValidationFailed(
            f"The submission has {count} problem{'s' if count != 1 else ''}; nothing was saved.",
            errors=errors,
        )
    assert analysis is not None
    assert parsed is not None
    assert upstream_url is not None
    assert division is not None
    return Plan(
        spec=spec,
        division_name=division.name,
        upstream_url=upstream_url.rstrip("/"),
        openapi_version=analysis.version or "3.0",
        document=parsed,
        document_sha256=sha256,
        operations=planned,
        warnings=[*analysis.warnings, *warnings, *upstream_warnings],
        policy=_policy(spec, settings),
        contracts=contracts,
    )


def _division_warnings(document: dict[str, Any], division: str) -> list[DocProblem]:
    """A document that names its division (``x-xyb-division``) onboarded under another one: a
    mistyped division, or another city's document. A warning: the submission decides."""
    if "x-xyb-division" not in document:
        return []
    value = document["x-xyb-division"]
    where = DOCUMENT_POINTER + "/x-xyb-division"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return [DocProblem(where, "x-xyb-division should be a division code such as '430100'")]
    code = str(value).strip()
    if code == division:
        return []
    named = known_division(code)
    ours = known_division(division)
    return [
        DocProblem(
            where,
            f"the document is for {code}{f' ({named.name})' if named else ''}, but it is being"
            f" onboarded for {division}{f' ({ours.name})' if ours else ''}: check the division"
            " (or the document)",
        )
    ]


def _upstream_warnings(upstream_url: str, settings: Settings) -> list[DocProblem]:
    """A service whose upstream is the gateway itself loops (508 on every call): say so."""
    if not gateway_itself(upstream_url, settings.host, settings.port, settings.public_url):
        return []
    return [
        DocProblem(
            "/body/upstream_url",
            f"the upstream URL {upstream_url} is this gateway's own address: every call would"
            " come back to the gateway and be refused as a loop (508)",
        )
    ]


def _check_contracts(
    spec: ServiceIn, document: dict[str, Any], errors: list[dict[str, str]]
) -> list[SubmittedContract]:
    """Parse each submitted contract and run its static checks against the submitted document."""
    checked: list[SubmittedContract] = []
    names: set[str] = set()
    for index, submitted in enumerate(spec.contracts):
        where = f"/body/contracts/{index}"
        content = (
            submitted if isinstance(submitted, str) else json.dumps(submitted, ensure_ascii=False)
        )
        try:
            contract = parse_contract(content, source=where, base_dir=None)
        except ContractFileError as exc:
            errors.extend(_error(where + p.pointer, p.message) for p in exc.problems)
            continue
        if contract.name in names:
            errors.append(_error(where, f"a second contract for {contract.name}"))
            continue
        names.add(contract.name)
        problems = check_contract(contract, document=document)
        errors.extend(_error(where + p.pointer, p.message) for p in problems)
        if not problems:
            checked.append(SubmittedContract(contract, content))
    return checked


async def next_change_seq(session: AsyncSession) -> int:
    """Take the next route-table change number.

    The row lock this UPDATE takes is held until commit, so numbers are taken in commit order
    and a polling instance never skips a change.
    """
    seq = await session.scalar(
        update(GatewayState)
        .where(GatewayState.id == 1)
        .values(change_seq=GatewayState.change_seq + 1)
        .returning(GatewayState.change_seq)
    )
    if seq is None:  # pragma: no cover - the migration inserts the row
        raise RuntimeError("gateway_state has no row: run `xyb db upgrade`")
    return int(seq)


def seal_upstream_auth(cipher: DataCipher, header: str, value: str) -> str:
    return cipher.encrypt(json.dumps([header, value]), context=UPSTREAM_AUTH_CONTEXT)


def open_upstream_auth(cipher: DataCipher, sealed: str) -> tuple[str, str]:
    """A service's stored upstream credential: (header, value)."""
    header, value = json.loads(cipher.decrypt(sealed, context=UPSTREAM_AUTH_CONTEXT))
    return str(header), str(value)


def _apply(service: Service, plan: Plan, seq: int, now: datetime, cipher: DataCipher) -> None:
    spec, policy = plan.spec, plan.policy
    service.min_assurance = spec.min_assurance
    if spec.upstream_auth is not None:
        service.upstream_auth_enc = seal_upstream_auth(
            cipher, spec.upstream_auth.header, spec.upstream_auth.value
        )
    service.name = spec.name
    service.connector = spec.connector
    service.upstream_url = plan.upstream_url
    service.data_classification = spec.data_classification.value
    service.timeout_s = policy.timeout_s
    service.retries = policy.retries
    service.breaker_threshold = policy.breaker_threshold
    service.breaker_cooldown_s = policy.breaker_cooldown_s
    service.max_concurrency = policy.max_concurrency
    service.openapi_version = plan.openapi_version
    service.document = plan.document
    service.document_sha256 = plan.document_sha256
    service.warnings = [{"pointer": w.pointer, "message": w.message} for w in plan.warnings]
    service.change_seq = seq
    service.updated_at = now


async def _write_version(session: AsyncSession, service: Service, plan: Plan) -> None:
    session.add(
        ServiceVersion(
            service_id=service.id,
            version=service.version,
            upstream_url=plan.upstream_url,
            openapi_version=plan.openapi_version,
            document=plan.document,
            document_sha256=plan.document_sha256,
        )
    )
    if plan.contracts:
        # Submitted contracts replace the recorded ones; without any, the recorded ones stay.
        await session.execute(
            delete(ServiceContract).where(ServiceContract.service_id == service.id)
        )
        session.add_all(
            ServiceContract(service_id=service.id, name=c.contract.name, content=c.content)
            for c in plan.contracts
        )
    await session.execute(delete(Operation).where(Operation.service_id == service.id))
    session.add_all(
        Operation(
            service_id=service.id,
            method=op.method,
            path=op.path,
            operation_id=op.operation_id,
            item_code=op.item_code,
            item_source=op.item_source,
            summary=(op.summary or None) and op.summary[:500],
        )
        for op in plan.operations
    )
    await session.flush()


async def ensure_not_onboarded(session: AsyncSession, division: str, slug: str) -> Service | None:
    """The retired service of that name (None if there is none); 409 if it is active."""
    existing = await session.scalar(
        select(Service).where(Service.division == division, Service.slug == slug)
    )
    if existing is not None and existing.status == ServiceStatus.ACTIVE:
        raise Conflict(
            f"{division}/{slug} is already onboarded (id {existing.id}); PUT"
            f" /admin/services/{existing.id} publishes a new version.",
            extensions={"service_id": existing.id},
        )
    return existing


async def create_service(session: AsyncSession, plan: Plan, cipher: DataCipher) -> Service:
    """Store a new service (or revive a retired one as its next version)."""
    spec = plan.spec
    existing = await ensure_not_onboarded(session, spec.division, spec.slug)
    seq = await next_change_seq(session)
    now = datetime.now(UTC)
    if existing is not None:
        return await _new_version(session, existing, plan, seq, now, cipher)
    service = Service(division=spec.division, slug=spec.slug, version=1, created_at=now)
    service.status = ServiceStatus.ACTIVE
    _apply(service, plan, seq, now, cipher)
    session.add(service)
    await session.flush()
    await _write_version(session, service, plan)
    return service


async def _new_version(
    session: AsyncSession,
    service: Service,
    plan: Plan,
    seq: int,
    now: datetime,
    cipher: DataCipher,
) -> Service:
    service.version += 1
    service.status = ServiceStatus.ACTIVE
    service.retired_at = None
    _apply(service, plan, seq, now, cipher)
    await _write_version(session, service, plan)
    return service


async def check_replacement(
    session: AsyncSession, service: Service, plan: Plan
) -> list[tuple[str, Break]]:
    """Refuse a new version of ``service`` the way publishing it would: a changed division or slug
    (422), or broken recorded contracts without ``force`` (409); else the breaks ``force``
    overrides. A dry run calls this too, so it refuses exactly what the real call refuses."""
    spec = plan.spec
    if (spec.division, spec.slug) != (service.division, service.slug):
        raise ValidationFailed(
            "A service keeps its division and slug; onboard a new service instead.",
            errors=[
                _error(
                    "/body/slug" if spec.division == service.division else "/body/division",
                    f"this service is {service.division}/{service.slug}",
                )
            ],
        )
    breaks = await contract_breaks(session, service, plan.document)
    if breaks and not spec.force:
        raise ContractBroken(
            f"The new version breaks {len(breaks)} promise{'s' if len(breaks) != 1 else ''}"
            f" of the contracts recorded with {service.division}/{service.slug}; nothing was"
            " saved. Fix the document, or send force=true to publish it anyway.",
            extensions={"breaks": _listed_breaks(breaks)},
        )
    return breaks


def _listed_breaks(breaks: list[tuple[str, Break]]) -> list[dict[str, str | None]]:
    return [
        {
            "contract": name,
            "interaction": b.interaction,
            "operation": b.operation,
            "pointer": DOCUMENT_POINTER + b.pointer,
            "detail": b.message,
        }
        for name, b in breaks
    ]


def listed_breaks(breaks: list[tuple[str, Break]]) -> list[dict[str, str | None]]:
    """The breaks as problem entries (the 409's ``breaks``; the audit record's summary)."""
    return _listed_breaks(breaks)


async def replace_service(
    session: AsyncSession,
    service: Service,
    plan: Plan,
    cipher: DataCipher,
    overridden: list[tuple[str, Break]] | None = None,
) -> Service:
    """Publish a new version of ``service`` atomically (one transaction). The breaks ``force``
    overrode are appended to ``overridden`` when given (the admin record lists them)."""
    breaks = await check_replacement(session, service, plan)
    if overridden is not None:
        overridden.extend(breaks)
    if breaks:
        # The override goes to the log as well as to the audit record (the route's).
        log.warning(
            "contract breaks overridden by force",
            extra={
                "service": f"{service.division}/{service.slug}",
                "service_id": service.id,
                "version": service.version + 1,
                "breaks": _listed_breaks(breaks),
            },
        )
    seq = await next_change_seq(session)
    return await _new_version(session, service, plan, seq, datetime.now(UTC), cipher)


async def contract_breaks(
    session: AsyncSession, service: Service, new_document: dict[str, Any]
) -> list[tuple[str, Break]]:
    """What the new document breaks in the contracts recorded with ``service``."""
    recorded = (
        await session.scalars(
            select(ServiceContract).where(ServiceContract.service_id == service.id)
        )
    ).all()
    breaks: list[tuple[str, Break]] = []
    for row in recorded:
        contract = parse_contract(row.content, source=row.name, base_dir=None)
        breaks += [(row.name, b) for b in find_breaks(contract, service.document, new_document)]
    return breaks


async def retire_service(session: AsyncSession, service: Service) -> Service:
    """Take a service off the gateway; its history stays."""
    if service.status == ServiceStatus.RETIRED:
        return service
    now = datetime.now(UTC)
    service.status = ServiceStatus.RETIRED
    service.retired_at = now
    service.updated_at = now
    service.change_seq = await next_change_seq(session)
    await session.flush()
    return service
