"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.deps import ResourcesDep
from app.core.errors import ServiceUnavailable
from app.core.openapi import problem_responses
from app.services.readiness import run_checks

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no dependency is consulted)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
async def readyz(resources: ResourcesDep) -> Readiness:
    """The gateway can serve: database reachable with its schema at head, Redis answering."""
    checks = await run_checks(resources)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise ServiceUnavailable(
            "; ".join(f"{c.name}: {c.detail}" for c in failed),
            extensions={"checks": {c.name: c.detail for c in checks}},
        )
    return Readiness(status="ready", checks={c.name: c.detail for c in checks})
