"""Serve 随申办 on a real socket (``xyb demo`` serves it on port 9018).

::

    async with ShanghaiServer(port=9018, gateway_jwks=jwks, assertion_issuer=issuer) as partner:
        partner.url  # http://127.0.0.1:9018
"""

from __future__ import annotations

from typing import Any

from app.simulators.alliance.shanghai.app import create_shanghai_app
from app.simulators.serving import LOOPBACK, AppServer


class ShanghaiServer(AppServer):
    """The simulated 随申办 on ``host:port`` (0: a free port), in this process's event loop.

    Keyword arguments other than ``host`` and ``port`` go to ``create_shanghai_app``.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        super().__init__(create_shanghai_app(**options), host=host, port=port, name="随申办")
