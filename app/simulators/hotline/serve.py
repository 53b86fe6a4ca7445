"""Serve the 12345 hotline on a real socket (``xyb demo`` serves it there).

::

    async with HotlineServer(
        port=9020, callback_url="http://127.0.0.1:8000/callbacks/hotline", callback_secret=secret
    ) as hotline:
        hotline.url  # http://127.0.0.1:9020
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from app.simulators.hotline.app import Hotline, create_hotline_app
from app.simulators.serving import LOOPBACK, AppServer


class HotlineServer(AppServer):
    """The simulated hotline on ``host:port`` (0: a free port), in this process's event loop.

    Keyword arguments other than ``host`` and ``port`` go to ``create_hotline_app``. Leaving
    the context stops the hotline's callback sender and schedule too (the embedded server runs
    no lifespan).
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        app = create_hotline_app(**options)
        self.hotline: Hotline = app.state.hotline
        super().__init__(app, host=host, port=port, name="the 12345 hotline")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self.hotline.aclose()
