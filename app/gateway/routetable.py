"""The in-memory route table: every active service, its operations, connector and protections.

Built from the database at start-up and patched whenever ``gateway_state.change_seq`` moves:
each instance polls that number (default every second), loads only the services that changed,
and swaps in a new table. Requests read the table without locks or database round trips.
Validators are compiled once per operation, on its first call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from app.connectors.base import Connector, ConnectorConfig, ConnectorHost
from app.connectors.registry import ConnectorRegistry
from app.core.config import Settings
from app.gateway.matcher import PathMatcher
from app.gateway.resilience import CircuitBreaker, ConcurrencyLimit
from app.models.service import GatewayState, Service, ServiceStatus
from app.services.openapi import (
    OpenAPIVersion,
    OperationSpec,
    RequestValidator,
    analyse,
    compile_validator,
)

log = logging.getLogger("xyb.routes")

TransportFactory = Callable[[str, int], httpx.AsyncBaseTransport]
# Opens a service's stored upstream credentials: (header name, value).
CredentialOpener = Callable[[str], tuple[str, str]]
# How long a replaced connector stays open for the calls still using it.
_CLOSE_GRACE_S = 30.0


def default_transport_factory(settings: Settings) -> TransportFactory:
    """The production transport: aiohttp under httpx (measured faster than httpx's own).

    Either way every connection's address is judged when it is made (link-local, metadata,
    multicast, ... refused unless XYB_UPSTREAM_ALLOWLIST names the network), so a host name that
    comes to resolve to such an address is refused too.
    """
    from app.connectors.transports import GuardedAiohttpTransport, GuardedHTTPTransport
    from app.services.upstream_policy import UpstreamPolicy

    refused = UpstreamPolicy.parse(settings.upstream_allowlist).refused_at_connect

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if settings.upstream_client == "httpx":
            return GuardedHTTPTransport(limits=limits, refused=refused)
        return GuardedAiohttpTransport(limits=limits, refused=refused)

    return factory


@dataclass(frozen=True, slots=True)
class RouteOperation:
    method: str
    path: str
    operation_id: str
    item_code: str | None


@dataclass(eq=False)
class ServiceEntry:
    """One active service as the proxy sees it."""

    id: int
    division: str
    slug: str
    name: str
    version: int
    connector_kind: str
    upstream_url: str
    timeout: float
    data_classification: str
    document: dict[str, Any]
    matcher: PathMatcher[RouteOperation]
    operations: list[RouteOperation]
    connector: Connector
    breaker: CircuitBreaker
    limit: ConcurrencyLimit
    min_assurance: int = 0
    # The header the gateway presents upstream for this service (decrypted in memory only).
    upstream_auth: tuple[str, str] | None = None
    _specs: dict[str, OperationSpec] | None = field(default=None, repr=False)
    _validators: dict[str, RequestValidator] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.division}/{self.slug}"

    def validator(self, operation: RouteOperation) -> RequestValidator:
        """The compiled validator of ``operation`` (compiled on first use, then cached)."""
        validator = self._validators.get(operation.operation_id)
        if validator is None:
            validator = compile_validator(self.document, self._spec(operation), self._version())
            self._validators[operation.operation_id] = validator
        return validator

    def specs(self) -> dict[str, OperationSpec]:
        if self._specs is None:
            # The document was fully checked at onboarding; only its operations are needed here.
            analysis = analyse(self.document, check_spec=False)
            self._specs = {f"{op.method} {op.path}": op for op in analysis.operations}
        return self._specs

    def _spec(self, operation: RouteOperation) -> OperationSpec:
        return self.specs()[f"{operation.method} {operation.path}"]

    def _version(self) -> OpenAPIVersion:
        return "3.1" if str(self.document.get("openapi", "")).startswith("3.1") else "3.0"


@dataclass(frozen=True)
class RouteTable:
    services: dict[tuple[str, str], ServiceEntry]
    retired: dict[tuple[str, str], datetime]
    seq: int

    def find(self, division: str, slug: str) -> ServiceEntry | None:
        return self.services.get((division, slug))


EMPTY_TABLE = RouteTable({}, {}, -1)


class RouteTableManager:
    """Keeps this instance's route table in step with the database."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ConnectorRegistry,
        transport_factory: TransportFactory,
        open_credentials: CredentialOpener | None = None,
        host: ConnectorHost | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.open_credentials = open_credentials
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.transport_factory = transport_factory
        self.table = EMPTY_TABLE
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._retiring: set[Connector] = set()

    async def start(self) -> None:
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="xyb-route-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for task in list(self._background):
            task.cancel()
        connectors = {id(e.connector): e.connector for e in self.table.services.values()}
        connectors.update({id(c): c for c in self._retiring})
        self._retiring.clear()
        for connector in connectors.values():
            await connector.aclose()
        self.table = EMPTY_TABLE

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.routes_poll_interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("route table refresh failed; keeping the current table")

    async def refresh(self) -> None:
        """Load what changed since the table's sequence number and swap in a new table."""
        async with self._lock:
            async with self.sessionmaker() as session:
                seq = await session.scalar(
                    select(GatewayState.change_seq).where(GatewayState.id == 1)
                )
                if seq is None or seq == self.table.seq:
                    return
                rows = (
                    await session.scalars(
                        select(Service)
                        .where(Service.change_seq > self.table.seq)
                        .options(selectinload(Service.operations))
                    )
                ).all()
            services = dict(self.table.services)
            retired = dict(self.table.retired)
            replaced: list[Connector] = []
            for row in rows:
                key = (row.division, row.slug)
                old = services.pop(key, None)
                if row.status == ServiceStatus.ACTIVE:
                    entry = self._build(row, old)
                    services[key] = entry
                    retired.pop(key, None)
                    if old is not None and old.connector is not entry.connector:
                        replaced.append(old.connector)
                else:
                    retired[key] = row.retired_at or row.updated_at
                    if old is not None:
                        replaced.append(old.connector)
            self.table = RouteTable(services, retired, seq)
            for connector in replaced:
                self._close_later(connector)
            if rows:
                log.info("route table updated", extra={"seq": seq, "services_changed": len(rows)})

    def _build(self, row: Service, old: ServiceEntry | None) -> ServiceEntry:
        key = f"{row.division}/{row.slug}"
        reuse = (
            old is not None
            and old.connector_kind == row.connector
            and old.upstream_url == row.upstream_url
            and old.limit.limit == row.max_concurrency
        )
        if reuse:
            assert old is not None
            connector = old.connector
            breaker = old.breaker
            breaker.threshold = row.breaker_threshold
            breaker.cooldown = row.breaker_cooldown_s
            limit = old.limit
        else:
            factory = self.registry.factory(row.connector)
            connector = factory(
                ConnectorConfig(
                    service=key,
                    base_url=row.upstream_url,
                    transport=self.transport_factory(row.upstream_url, row.max_concurrency),
                    max_connections=row.max_concurrency,
                    buffer_bytes=int(self.settings.upstream_buffer),
                    max_response_bytes=int(self.settings.upstream_max_response),
                    retries=row.retries,
                    gateway_id=self.settings.gateway_id,
                    host=self.host,
                )
            )
            breaker = CircuitBreaker(
                key, threshold=row.breaker_threshold, cooldown=row.breaker_cooldown_s
            )
            limit = ConcurrencyLimit(key, row.max_concurrency)
        matcher: PathMatcher[RouteOperation] = PathMatcher()
        operations: list[RouteOperation] = []
        for op in row.operations:
            route = RouteOperation(op.method, op.path, op.operation_id, op.item_code)
            matcher.add(op.method, op.path, route)
            operations.append(route)
        return ServiceEntry(
            id=row.id,
            division=row.division,
            slug=row.slug,
            name=row.name,
            version=row.version,
            connector_kind=row.connector,
            upstream_url=row.upstream_url,
            timeout=row.timeout_s,
            data_classification=row.data_classification,
            document=row.document,
            matcher=matcher,
            operations=operations,
            connector=connector,
            breaker=breaker,
            limit=limit,
            min_assurance=row.min_assurance,
            upstream_auth=(
                self.open_credentials(row.upstream_auth_enc)
                if row.upstream_auth_enc and self.open_credentials
                else None
            ),
        )

    def _close_later(self, connector: Connector) -> None:
        self._retiring.add(connector)

        async def close() -> None:
            await asyncio.sleep(_CLOSE_GRACE_S)
            self._retiring.discard(connector)
            await connector.aclose()

        task = asyncio.create_task(close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
