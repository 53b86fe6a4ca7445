"""The problem types: what each ``type`` URI in an error means."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.core.errors import PROBLEM_TYPES, NotFound
from app.core.openapi import problem_responses

router = APIRouter(prefix="/problems", tags=["problems"])


class ProblemTypeOut(BaseModel):
    type: str
    title: str
    status: int
    fault: str
    description: str


def _out(slug: str) -> ProblemTypeOut:
    p = PROBLEM_TYPES[slug]
    return ProblemTypeOut(
        type=p.uri, title=p.title, status=p.status, fault=p.fault, description=p.description
    )


@router.get("", response_model=list[ProblemTypeOut])
async def list_problem_types() -> list[ProblemTypeOut]:
    """Every problem type the gateway can answer with."""
    return [_out(slug) for slug in sorted(PROBLEM_TYPES)]


@router.get("/{slug}", response_model=ProblemTypeOut, responses=problem_responses(404))
async def get_problem_type(slug: str) -> ProblemTypeOut:
    """One problem type (the target of a problem's ``type`` URI)."""
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"There is no problem type {slug!r}; GET /problems lists them.")
    return _out(slug)
