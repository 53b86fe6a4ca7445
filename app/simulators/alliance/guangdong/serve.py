"""Serve 粤省事 on a real socket (``xyb demo`` serves it there).

::

    async with GuangdongServer(port=9017, gateway_jwks=jwks, assertion_issuer=issuer) as ysx:
        ysx.url  # http://127.0.0.1:9017
"""

from __future__ import annotations

from typing import Any

from app.simulators.alliance.guangdong.app import create_guangdong_app
from app.simulators.serving import LOOPBACK, AppServer


class GuangdongServer(AppServer):
    """The simulated 粤省事 on ``host:port`` (0: a free port), in this process's event loop.

    Keyword arguments other than ``host`` and ``port`` go to ``create_guangdong_app``.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        super().__init__(create_guangdong_app(**options), host=host, port=port, name="粤省事")
