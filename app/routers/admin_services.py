"""The onboarding API: submit, inspect, version and retire services (platform admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.core.deps import SessionDep, after_commit
from app.core.divisions import division as known_division
from app.core.divisions import divisions
from app.core.errors import Forbidden, NotFound
from app.core.openapi import problem_responses
from app.gateway.openapi_doc import add_gateway_responses
from app.gateway.routetable import RouteTableManager
from app.identity.callers import Caller, ServiceAdminDep
from app.identity.crypto import DataCipher
from app.identity.roles import Role
from app.models.service import DataClassification, Operation, Service, ServiceStatus, ServiceVersion
from app.routers.audited import audit_change
from app.schemas.services import (
    BindingOut,
    DocumentIssue,
    ResiliencePolicy,
    RouteOut,
    ServiceIn,
    ServiceOut,
    ServiceSummary,
    ServiceVersionOut,
)
from app.services.onboarding import (
    Plan,
    build_plan,
    check_replacement,
    create_service,
    ensure_not_onboarded,
    listed_breaks,
    open_upstream_auth,
    replace_service,
    retire_service,
)
from app.services.openapi import MergeInput, analyse, service_document
from app.services.openapi.patterns import pattern_warnings

router = APIRouter(
    prefix="/admin/services",
    tags=["admin: services"],
    responses=problem_responses(401, 403),
)

# Ids are 32-bit on every backend; a larger number is the caller's mistake, not an overflow.
MAX_ID = 2_147_483_647
ServiceId = Annotated[int, Path(ge=1, le=MAX_ID, description="the service's id")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_ID)]

DryRun = Annotated[bool, Query(description="Check and return the plan without saving anything.")]


def _routes(request: Request) -> RouteTableManager:
    manager = request.app.state.routes
    assert isinstance(manager, RouteTableManager)
    return manager


def _gateway_path(division: str, slug: str) -> str:
    return f"/gw/{division}/{slug}"


class _Bound(Protocol):
    """An operation with its binding: a planned one or a stored one."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def operation_id(self) -> str: ...
    @property
    def item_code(self) -> str | None: ...
    @property
    def item_source(self) -> str | None: ...
    @property
    def summary(self) -> str | None: ...


def _route_list(base: str, upstream: str, operations: Sequence[_Bound]) -> list[RouteOut]:
    return [
        RouteOut(
            method=op.method,
            path=base + op.path,
            upstream=upstream + op.path,
            operation_id=op.operation_id,
            item_code=op.item_code,
            summary=op.summary,
        )
        for op in operations
    ]


def _binding_list(operations: Sequence[_Bound]) -> list[BindingOut]:
    return [
        BindingOut(operation_id=op.operation_id, item_code=op.item_code, source=op.item_source)
        for op in operations
        if op.item_code is not None and op.item_source is not None
    ]


def _plan_out(plan: Plan) -> ServiceOut:
    spec = plan.spec
    base = _gateway_path(spec.division, spec.slug)
    return ServiceOut(
        id=None,
        division=spec.division,
        division_name=plan.division_name,
        slug=spec.slug,
        name=spec.name,
        connector=spec.connector,
        upstream_url=plan.upstream_url,
        data_classification=spec.data_classification,
        status="planned",
        version=1,
        openapi_version=plan.openapi_version,
        document_sha256=plan.document_sha256,
        gateway_path=base,
        policy=_policy_of(plan),
        routes=_route_list(base, plan.upstream_url, plan.operations),
        bindings=_binding_list(plan.operations),
        warnings=[DocumentIssue(pointer=w.pointer, message=w.message) for w in plan.warnings],
        dry_run=True,
    )


def _policy_of(plan: Plan) -> ResiliencePolicy:
    p = plan.policy
    return ResiliencePolicy(
        timeout_s=p.timeout_s,
        retries=p.retries,
        breaker_threshold=p.breaker_threshold,
        breaker_cooldown_s=p.breaker_cooldown_s,
        max_concurrency=p.max_concurrency,
    )


def _warnings(service: Service) -> list[DocumentIssue]:
    """The stored warnings, and the patterns of a document stored before patterns were checked
    that the gateway does not run (its requests that reach one are refused)."""
    stored = [DocumentIssue(**w) for w in service.warnings]
    seen = {(w.pointer, w.message) for w in stored}
    extra = [
        DocumentIssue(pointer=w.pointer, message=w.message)
        for w in pattern_warnings(service.document, service.document_sha256)
        if (w.pointer, w.message) not in seen
    ]
    return [*stored, *extra]


def _service_out(service: Service, operations: list[Operation], cipher: DataCipher) -> ServiceOut:
    base = _gateway_path(service.division, service.slug)
    division = known_division(service.division)
    return ServiceOut(
        id=service.id,
        division=service.division,
        division_name=division.name if division else service.division,
        slug=service.slug,
        name=service.name,
        connector=service.connector,
        upstream_url=service.upstream_url,
        data_classification=DataClassification(service.data_classification),
        status=service.status,
        version=service.version,
        openapi_version=service.openapi_version,
        document_sha256=service.document_sha256,
        gateway_path=base,
        min_assurance=service.min_assurance,
        upstream_auth_header=(
            open_upstream_auth(cipher, service.upstream_auth_enc)[0]
            if service.upstream_auth_enc
            else None
        ),
        policy=ResiliencePolicy(
            timeout_s=service.timeout_s,
            retries=service.retries,
            breaker_threshold=service.breaker_threshold,
            breaker_cooldown_s=service.breaker_cooldown_s,
            max_concurrency=service.max_concurrency,
        ),
        routes=_route_list(base, service.upstream_url, operations),
        bindings=_binding_list(operations),
        warnings=_warnings(service),
        created_at=service.created_at,
        updated_at=service.updated_at,
        retired_at=service.retired_at,
    )


def _audit(
    request: Request,
    session: SessionDep,
    caller: Caller,
    action: str,
    service: Service,
    summary: dict[str, Any],
) -> None:
    """The admin record of an onboarding change, once it has committed."""
    division, slug = service.division, service.slug
    audit_change(request, session, caller, action, f"service:{division}/{slug}", summary, division)


async def _plan(body: ServiceIn, request: Request, manager: RouteTableManager) -> Plan:
    # Checking a large document takes seconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(build_plan, body, request.app.state.settings, manager.registry)


def _may_manage(caller: Caller, division: str) -> None:
    """A division admin manages its own division (and the counties under it) only."""
    if Role.PLATFORM_ADMIN.value in caller.roles:
        return
    own = caller.division
    place = known_division(division)
    if own is not None and (division == own or (place is not None and place.parent == own)):
        return
    raise Forbidden(
        f"A division admin of {own} cannot manage services of {division}.",
        extensions={"division": division, "own_division": own},
    )


def _cipher(request: Request) -> DataCipher:
    cipher: DataCipher = request.app.state.identity.cipher
    return cipher


async def _load(session: SessionDep, service_id: int) -> Service:
    service = await session.scalar(
        select(Service).where(Service.id == service_id).options(selectinload(Service.operations))
    )
    if service is None:
        raise NotFound(f"There is no service with id {service_id}.")
    return service


async def _saved_out(session: SessionDep, service: Service, cipher: DataCipher) -> ServiceOut:
    operations = list(
        (
            await session.scalars(
                select(Operation).where(Operation.service_id == service.id).order_by(Operation.id)
            )
        ).all()
    )
    return _service_out(service, operations, cipher)


@router.post(
    "",
    response_model=ServiceOut,
    status_code=201,
    responses={
        200: {"description": "The plan (dry run): nothing was saved", "model": ServiceOut},
        **problem_responses(400, 409, 413, 422),
    },
)
async def onboard_service(
    body: ServiceIn,
    caller: ServiceAdminDep,
    session: SessionDep,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> ServiceOut:
    """Onboard a service from its OpenAPI document (or, with ``dry_run``, show the plan)."""
    _may_manage(caller, body.division)
    manager = _routes(request)
    plan = await _plan(body, request, manager)
    if dry_run:
        # A dry run predicts the real answer, a conflict included.
        await ensure_not_onboarded(session, body.division, body.slug)
        response.status_code = 200
        return _plan_out(plan)
    before = await session.scalar(
        select(Service.version).where(Service.division == body.division, Service.slug == body.slug)
    )
    service = await create_service(session, plan, _cipher(request))
    after_commit(session, manager.refresh)
    _audit(
        request,
        session,
        caller,
        "service.onboard",
        service,
        {
            "id": service.id,
            "version_before": before,
            "version_after": service.version,
            "document_sha256": service.document_sha256,
            "operations": len(plan.operations),
            "upstream_url": service.upstream_url,
        },
    )
    response.headers["Location"] = f"/admin/services/{service.id}"
    return await _saved_out(session, service, _cipher(request))


@router.get("", response_model=list[ServiceSummary], responses=problem_responses(422))
async def list_services(
    caller: ServiceAdminDep,
    session: SessionDep,
    division: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    status: Annotated[ServiceStatus | None, Query(description="default: all")] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="cursor: the last id seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ServiceSummary]:
    """Onboarded services, by id."""
    counts = (
        select(Operation.service_id, func.count().label("n"))
        .group_by(Operation.service_id)
        .subquery()
    )
    query = (
        select(Service, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.service_id == Service.id)
        .where(Service.id > after_id)
        .order_by(Service.id)
        .limit(limit)
    )
    if division is not None:
        query = query.where(Service.division == division)
    if Role.PLATFORM_ADMIN.value not in caller.roles:
        own = caller.division or ""
        counties = [d.code for d in divisions().values() if d.parent == own]
        query = query.where(Service.division.in_([own, *counties]))
    if status is not None:
        query = query.where(Service.status == status.value)
    rows = (await session.execute(query)).all()
    return [
        ServiceSummary(
            id=s.id,
            division=s.division,
            slug=s.slug,
            name=s.name,
            connector=s.connector,
            upstream_url=s.upstream_url,
            status=s.status,
            version=s.version,
            operations=int(n),
            updated_at=s.updated_at,
        )
        for s, n in rows
    ]


@router.get("/{service_id}", response_model=ServiceOut, responses=problem_responses(404, 422))
async def get_service(
    service_id: ServiceId, caller: ServiceAdminDep, session: SessionDep, request: Request
) -> ServiceOut:
    """One service: its routes, bindings, policy and the warnings of its document."""
    service = await _load(session, service_id)
    _may_manage(caller, service.division)
    return _service_out(service, list(service.operations), _cipher(request))


@router.put(
    "/{service_id}",
    response_model=ServiceOut,
    responses={
        200: {"description": "The new version (or, with dry_run, its plan)"},
        **problem_responses(400, 404, 409, 413, 422),
    },
)
async def replace(
    service_id: ServiceId,
    body: ServiceIn,
    caller: ServiceAdminDep,
    session: SessionDep,
    request: Request,
    dry_run: DryRun = False,
) -> ServiceOut:
    """Publish a new version: it replaces the current one atomically; history is kept."""
    manager = _routes(request)
    service = await _load(session, service_id)
    _may_manage(caller, service.division)
    plan = await _plan(body, request, manager)
    if dry_run:
        breaks = await check_replacement(session, service, plan)
        if breaks:  # force=true would override these: a forced dry run is on the record too
            _audit(
                request,
                session,
                caller,
                "service.replace.dry-run",
                service,
                {
                    "id": service.id,
                    "version_before": service.version,
                    "version_after": service.version + 1,
                    "forced": True,
                    "breaks_overridden": listed_breaks(breaks),
                },
            )
        out = _plan_out(plan)
        out.id, out.version, out.status = service.id, service.version + 1, "planned"
        return out
    before = service.version
    overridden: list[Any] = []
    service = await replace_service(session, service, plan, _cipher(request), overridden)
    after_commit(session, manager.refresh)
    summary: dict[str, Any] = {
        "id": service.id,
        "version_before": before,
        "version_after": service.version,
        "document_sha256": service.document_sha256,
        "operations": len(plan.operations),
        "upstream_url": service.upstream_url,
    }
    if overridden:
        summary["forced"] = True
        summary["breaks_overridden"] = listed_breaks(overridden)
    _audit(request, session, caller, "service.replace", service, summary)
    return await _saved_out(session, service, _cipher(request))


@router.delete("/{service_id}", response_model=ServiceOut, responses=problem_responses(404, 422))
async def retire(
    service_id: ServiceId, caller: ServiceAdminDep, session: SessionDep, request: Request
) -> ServiceOut:
    """Retire a service: its routes leave the gateway; its record and history stay."""
    service = await _load(session, service_id)
    _may_manage(caller, service.division)
    was = service.status
    await retire_service(session, service)
    after_commit(session, _routes(request).refresh)
    if was != service.status:  # retiring a retired service changes nothing
        _audit(
            request,
            session,
            caller,
            "service.retire",
            service,
            {"id": service.id, "version": service.version, "status_before": was},
        )
    return _service_out(service, list(service.operations), _cipher(request))


@router.get(
    "/{service_id}/versions",
    response_model=list[ServiceVersionOut],
    responses=problem_responses(404, 422),
)
async def list_versions(
    service_id: ServiceId, caller: ServiceAdminDep, session: SessionDep
) -> list[ServiceVersionOut]:
    """Every version of the service's document, newest first."""
    _may_manage(caller, (await _load(session, service_id)).division)
    rows = await session.scalars(
        select(ServiceVersion)
        .where(ServiceVersion.service_id == service_id)
        .order_by(ServiceVersion.version.desc())
    )
    return [
        ServiceVersionOut(
            version=v.version,
            upstream_url=v.upstream_url,
            openapi_version=v.openapi_version,
            document_sha256=v.document_sha256,
            created_at=v.created_at,
        )
        for v in rows
    ]


@router.get(
    "/{service_id}/versions/{version}/document",
    responses={
        200: {"description": "The document of that version, as stored (JSON)"},
        **problem_responses(404, 422),
    },
)
async def version_document(
    service_id: ServiceId, version: VersionNumber, caller: ServiceAdminDep, session: SessionDep
) -> dict[str, Any]:
    """The OpenAPI document of one version, for history and contract comparison."""
    _may_manage(caller, (await _load(session, service_id)).division)
    row = await session.scalar(
        select(ServiceVersion).where(
            ServiceVersion.service_id == service_id, ServiceVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"Service {service_id} has no version {version}.")
    return row.document


@router.get(
    "/{service_id}/openapi",
    responses={
        200: {"description": "The service's operations as reachable through the gateway"},
        **problem_responses(404, 422),
    },
)
async def service_openapi(
    service_id: ServiceId, caller: ServiceAdminDep, session: SessionDep, request: Request
) -> dict[str, Any]:
    """One service's OpenAPI document as seen through the gateway (paths under /gw/...)."""
    service = await _load(session, service_id)
    _may_manage(caller, service.division)
    analysis = analyse(service.document, check_spec=False)
    return add_gateway_responses(
        service_document(
            MergeInput(
                division=service.division,
                slug=service.slug,
                name=service.name,
                document=service.document,
                operations=analysis.operations,
            ),
            server_url=request.app.state.settings.resolved_public_url,
        )
    )
