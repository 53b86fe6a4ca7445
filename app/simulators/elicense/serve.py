"""Serve the e-license registry on a real socket (``xyb demo`` serves it there).

::

    async with RegistryServer(port=9016, gateway_jwks=jwks, assertion_issuer=issuer) as registry:
        registry.url  # http://127.0.0.1:9016
"""

from __future__ import annotations

from typing import Any

from app.simulators.elicense.app import create_registry_app
from app.simulators.serving import LOOPBACK, AppServer


class RegistryServer(AppServer):
    """The simulated registry on ``host:port`` (0: a free port), in this process's event loop.

    Keyword arguments other than ``host`` and ``port`` go to ``create_registry_app``.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        super().__init__(
            create_registry_app(**options), host=host, port=port, name="the e-license registry"
        )
