"""The application: ``create_app(settings)`` and its lifespan. uvicorn runs ``app.main:app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from pydantic import BaseModel

from app.connectors.base import ConnectorHost
from app.connectors.registry import ConnectorRegistry
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.core.migrations import schema_state, upgrade
from app.core.openapi import Scheme, install_openapi
from app.core.resources import Resources
from app.events import AccessEventSink, FanOut, RecentEvents
from app.gateway.guard import GatewayGuard
from app.gateway.license_types import LicenseTypeCounter
from app.gateway.loop import LoopGuard
from app.gateway.openapi_doc import ROLE_SCOPES
from app.gateway.proxy import GatewayProxy, GatewayShortcut
from app.gateway.ratelimit import LocalLimiter, RedisLimiter, limiter_redis
from app.gateway.routetable import (
    EMPTY_TABLE,
    RouteTable,
    RouteTableManager,
    TransportFactory,
    default_transport_factory,
)
from app.identity.crypto import DataCipher
from app.identity.enterprise_register import MAX_CONNECTIONS as REGISTER_CONNECTIONS
from app.identity.enterprise_register import EnterpriseRegister
from app.identity.state import IdentityManager
from app.identity.throttle import LoginThrottle
from app.routers import (
    admin_catalog,
    admin_clients,
    admin_services,
    catalog,
    docs,
    gateway_docs,
    health,
    hotline,
    identity,
    metrics,
    ops,
    ops_hotline,
    problems,
)
from app.services.audit.log import AuditLog
from app.services.counting import Counter
from app.services.metrics import InstanceMetrics, app_figures
from app.services.onboarding import open_upstream_auth
from app.services.ops.sessions import COOKIE_NAME as OPS_COOKIE
from app.services.ops.targets import TargetSnapshotTask

log = logging.getLogger("xyb.app")


def _version() -> str:
    try:
        return version("xyb-gateway")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


class SchemaNotAtHead(RuntimeError):
    """Production refuses to serve an unmigrated database."""


async def _ensure_schema(res: Resources) -> None:
    current, head = await schema_state(res.engine)
    if current == head:
        return
    if res.settings.is_production:
        raise SchemaNotAtHead(
            f"the database schema is at revision {current or 'none'} but the code expects {head}:"
            " run `xyb db upgrade` before starting the gateway"
        )
    reached = await upgrade(res.engine)
    log.info("database migrated", extra={"from_revision": current, "to_revision": reached})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    redis = None
    try:
        if settings.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=2,
                health_check_interval=30,
            )
        res = Resources(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            redis=redis,
        )
        await _ensure_schema(res)
        app.state.resources = res
        cipher = DataCipher.from_text(settings.resolved_data_key)
        identity = IdentityManager(settings, res.sessionmaker, cipher)
        app.state.identity = identity
        await identity.start()
        # Limits and login throttles get their own Redis client: short timeouts, no retries, so
        # a Redis outage costs a request 0.2 s once and then falls back to per-instance limits.
        fast_redis = limiter_redis(settings.redis_url) if settings.redis_url else None
        app.state.login_throttle = LoginThrottle(fast_redis)
        if fast_redis is not None:
            app.state.guard.limiter = RedisLimiter(fast_redis, fallback=LocalLimiter())
        routes = RouteTableManager(
            settings,
            res.sessionmaker,
            app.state.connector_registry or ConnectorRegistry.discover(),
            app.state.transport_factory or default_transport_factory(settings),
            open_credentials=lambda sealed: open_upstream_auth(cipher, sealed),
            host=ConnectorHost(
                res.sessionmaker, lambda: identity, settings, clock=lambda: app.state.clock()
            ),
        )
        app.state.routes = routes
        app.state.license_types = LicenseTypeCounter(lambda: routes)
        await routes.start()
        register_url = settings.enterprise_register_url
        if register_url is None:
            log.info(
                "no enterprise register is configured (XYB_ENTERPRISE_REGISTER_URL):"
                " registering a legal person answers 503"
            )
        register_token = settings.enterprise_register_token
        app.state.enterprise_register = EnterpriseRegister(
            register_url,
            routes.transport_factory(register_url, REGISTER_CONNECTIONS) if register_url else None,
            token=register_token.get_secret_value() if register_token else None,
        )
        counter: Counter | None = app.state.counter
        if counter is not None:
            await counter.start(res.sessionmaker)
        audit: AuditLog | None = app.state.audit
        if audit is not None:
            # Checkpoints are signed with the current key of the identity state: after a
            # rotation reaches this process, the next checkpoint uses the new key.
            await audit.start(res.sessionmaker, signer=lambda: identity.state.keyring.signing_key)
        snapshots = None
        if settings.target_snapshot_interval > 0:
            snapshots = TargetSnapshotTask(
                res.sessionmaker,
                settings,
                interval=settings.target_snapshot_interval,
                license_types=app.state.license_types.measure,
            )
            await snapshots.start()
        metrics: InstanceMetrics = app.state.metrics
        await metrics.start()
        try:
            yield
        finally:
            if snapshots is not None:
                await snapshots.stop()
            if counter is not None:
                # Everything buffered is written before the engine goes away.
                await counter.stop()
            if audit is not None:
                # Everything buffered is written, with a final checkpoint, while the identity
                # state (the signing key) and the engine are still there.
                await audit.stop()
            await metrics.stop()
            await routes.stop()
            await app.state.enterprise_register.aclose()
            await identity.stop()
            if fast_redis is not None:
                await fast_redis.aclose()
    finally:
        app.state.resources = None
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


class Index(BaseModel):
    name: str
    version: str
    docs: str
    openapi: str
    health: str
    readiness: str


def create_app(
    settings: Settings | None = None,
    *,
    transport_factory: TransportFactory | None = None,
    connector_registry: ConnectorRegistry | None = None,
    sink: AccessEventSink | None = None,
) -> FastAPI:
    """Build the gateway. Nothing connects here: the lifespan opens what requests share.

    ``transport_factory`` replaces the upstream transport (tests use respx or ASGI transports),
    ``connector_registry`` the entry-point discovery, ``sink`` where access events go.
    """
    settings = settings or get_settings()
    if not logging.getLogger("xyb").handlers:
        configure_logging(settings.log_level)
    app = FastAPI(
        title="xyb-gateway",
        summary="The back end of 湘易办: a government-service integration gateway.",
        version=_version(),
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        # /docs and /redoc come from app.routers.docs: FastAPI's own load their assets from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.resources = None
    app.state.transport_factory = transport_factory
    app.state.connector_registry = connector_registry
    app.state.recent_events = RecentEvents()
    # "Now" for deadlines the gateway keeps (hotline tickets); tests replace it.
    app.state.clock = lambda: datetime.now(UTC)
    # Exact access counting (XYB_COUNTING): the counter is one of the access events' sinks.
    app.state.counter = Counter.from_settings(settings) if settings.counting else None
    sinks: list[AccessEventSink] = [app.state.recent_events]
    if app.state.counter is not None:
        sinks.append(app.state.counter)
    # The audit log (XYB_AUDIT): one record per call, chained and signed (app.services.audit).
    app.state.audit = AuditLog.from_settings(settings) if settings.audit else None
    if app.state.audit is not None:
        sinks.append(app.state.audit)
    if sink is not None:
        sinks.append(sink)
    app.state.events = FanOut(*sinks) if len(sinks) > 1 else app.state.recent_events
    # /metrics: this worker's figures, merged with the other workers' (XYB_METRICS_DIR).
    app.state.metrics = InstanceMetrics(
        app_figures(app.state), counting=settings.counting, audit=settings.audit
    )
    app.state.routes = None
    app.state.identity = None
    app.state.enterprise_register = EnterpriseRegister(None)  # the lifespan opens the real one
    app.state.gateway_openapi = {}
    install_error_handlers(app)
    install_openapi(
        app,
        settings.resolved_public_url,
        scopes=ROLE_SCOPES,
        extra_schemes={
            Scheme.OPS_SESSION: {
                "type": "apiKey",
                "in": "cookie",
                "name": OPS_COOKIE,
                "description": "An operator's dashboard sign-in (the form at /ops/login).",
            },
            hotline.SIGNATURE_SCHEME: hotline.SIGNATURE_SCHEME_DOC,
        },
    )

    @app.get("/", response_model=Index, tags=["health"])
    async def index() -> Index:
        """Where to go from here."""
        return Index(
            name="xyb-gateway",
            version=app.version,
            docs="/docs",
            openapi="/openapi.json",
            health="/healthz",
            readiness="/readyz",
        )

    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(problems.router)
    app.include_router(identity.router)
    app.include_router(admin_services.router)
    app.include_router(admin_clients.router)
    app.include_router(gateway_docs.router)
    app.include_router(catalog.router)
    app.include_router(admin_catalog.router)
    app.include_router(ops.router)
    app.include_router(ops_hotline.router)
    app.include_router(hotline.router)
    app.include_router(metrics.router)

    def current_table() -> RouteTable:
        manager: RouteTableManager | None = app.state.routes
        return manager.table if manager is not None else EMPTY_TABLE

    # The proxy path is a plain ASGI app: no FastAPI routing or dependency injection per call.
    def current_identity() -> IdentityManager:
        manager: IdentityManager | None = app.state.identity
        if manager is None:
            raise RuntimeError("the app's lifespan has not run: identity is not loaded")
        return manager

    app.state.guard = GatewayGuard(current_identity, LocalLimiter())
    proxy = GatewayProxy(
        current_table,
        app.state.events,
        gateway_id=settings.gateway_id,
        guard=app.state.guard,
        validation_timeout=settings.validation_timeout,
    )
    # Every route, not only /gw: a service pointing at the gateway must not reach its own API.
    # Inside the shortcut: the proxy checks /gw itself, so a looped call is one access event.
    app.add_middleware(LoopGuard, gateway_id=settings.gateway_id)
    app.add_middleware(GatewayShortcut, proxy=proxy, exempt=frozenset({"/gw/openapi.json"}))

    # Added last runs first: the request id must exist before a 413 is answered.
    app.add_middleware(BodyLimitMiddleware, limit_for=settings.body_limit_for)
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
