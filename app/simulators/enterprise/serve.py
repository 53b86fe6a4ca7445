"""Serve the enterprise register on a real socket (what ``xyb demo`` runs beside the cities).

::

    async with RegisterServer(port=9015, consumer_token=token) as register:
        register.url  # http://127.0.0.1:9015
"""

from __future__ import annotations

from app.simulators.enterprise.app import create_register_app
from app.simulators.serving import LOOPBACK, AppServer


class RegisterServer(AppServer):
    """The simulated register on ``host:port`` (0: a free port), in this process's event loop."""

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int = 1,
        consumer_token: str | None = None,
    ) -> None:
        # Only the holder of consumer_token (the gateway) is given ID numbers.
        super().__init__(
            create_register_app(seed=seed, consumer_token=consumer_token),
            host=host,
            port=port,
            name="the enterprise register",
        )
