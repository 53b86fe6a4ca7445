"""An injectable clock: every calendar computation of the operators' view takes "now" from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# Returns an aware datetime (any zone); callers convert to the configured zone.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """``moment`` with a zone (naive values from a clock are taken as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
