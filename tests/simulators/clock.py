"""A fixed clock for the simulators under test."""

from __future__ import annotations

from datetime import datetime

from app.simulators.city.api import SHANGHAI

# 20 November 2023, 10:00 in China: the deposits and contributions of the 15th are booked.
NOW = datetime(2023, 11, 20, 10, 0, tzinfo=SHANGHAI)


def fixed_clock() -> datetime:
    """Always ``NOW``."""
    return NOW
