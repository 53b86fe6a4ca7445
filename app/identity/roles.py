"""Roles carried by clients (and, later, operator accounts)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"  # everything; the bootstrap XYB_ADMIN_TOKEN has it
    DIVISION_ADMIN = "division_admin"  # onboards and changes its own division's services only
    OPERATOR = "operator"  # reads /ops, the dashboard, /metrics
    DEPARTMENT = "department"  # issues e-licenses
    VERIFIER = "verifier"  # verifies license presentations


ALL_ROLES = frozenset(r.value for r in Role)
