"""Serve simulated 赣服通 on a real socket (``xyb demo`` serves it on port 9019).

::

    async with JiangxiServer(port=9019, gateway_jwks=jwks, assertion_issuer=issuer) as gft:
        gft.url  # http://127.0.0.1:9019
"""

from __future__ import annotations

from typing import Any

from app.simulators.alliance.jiangxi.app import create_jiangxi_app
from app.simulators.serving import LOOPBACK, AppServer


class JiangxiServer(AppServer):
    """Simulated 赣服通 on ``host:port`` (0: a free port), in this process's event loop.

    Keyword arguments other than ``host`` and ``port`` go to ``create_jiangxi_app``.
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        super().__init__(
            create_jiangxi_app(**options), host=host, port=port, name="赣服通 (jiangxi)"
        )
