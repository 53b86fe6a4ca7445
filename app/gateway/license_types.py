"""How many kinds of e-license the registry holds, for the 200-type year-end target.

Read from the onboarded e-license service's connector (the registry's own type list), not from a
file the gateway ships: a registry holding 3 types reports 3. The last count read is kept, so a
registry that is briefly unreachable does not make the target fall to 0 in the day's snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from app.core.logging import describe_exception
from app.gateway.routetable import RouteTableManager
from app.services.ops.targets import Measured

log = logging.getLogger("xyb.gateway.license_types")

KIND = "elicense"
# Fresh enough for a target that moves by a few types a month, and one registry call per minute
# at most however often /ops/targets is read.
FRESH_S = 60.0


class _Counting(Protocol):
    def license_type_count(self) -> Awaitable[int]: ...


class LicenseTypeCounter:
    """Measures the e-license target through the route table's e-license service."""

    def __init__(
        self,
        routes: Callable[[], RouteTableManager | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._routes = routes
        self._clock = clock
        self._last: tuple[float, Measured] | None = None

    async def measure(self) -> Measured:
        manager = self._routes()
        entries = (
            [e for e in manager.table.services.values() if e.connector_kind == KIND]
            if manager is not None
            else []
        )
        if not entries:
            return Measured(
                0, "no e-license service is onboarded (a service whose connector is elicense)"
            )
        entry = min(entries, key=lambda e: (e.division, e.slug))
        now = self._clock()
        if self._last is not None and now - self._last[0] < FRESH_S:
            return self._last[1]
        connector: _Counting = entry.connector  # type: ignore[assignment]
        try:
            count = await connector.license_type_count()
        except Exception as exc:  # any failure keeps the last count
            log.warning(
                "the e-license registry's type count could not be read",
                extra={"service": entry.key, "error": describe_exception(exc)},
            )
            if self._last is not None:
                previous = self._last[1]
                return Measured(
                    previous.value,
                    f"e-license registry of {entry.key}: unreachable now; its last count",
                )
            return Measured(0, f"e-license registry of {entry.key}: unreachable, not yet counted")
        measured = Measured(count, f"e-license registry of {entry.key}: the license types it lists")
        self._last = (now, measured)
        return measured
