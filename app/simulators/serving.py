"""One simulator app on a real socket, in the event loop of the process that embeds it (the
registers beside ``xyb demo``'s cities, tests' live upstreams)::

    async with AppServer(app, port=0, name="the e-license registry") as server:
        server.url  # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

LOOPBACK = "127.0.0.1"


class EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handlers: the process that embeds it owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AppServer:
    """``app`` on ``host:port`` (0: a free port, known once entered); ``name`` for errors."""

    def __init__(self, app: ASGIApp, *, host: str = LOOPBACK, port: int = 0, name: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._server: EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL it answers on (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = EmbeddedServer(
            uvicorn.Config(
                self.app,
                host=self.host,
                port=self.port,
                lifespan="off",
                log_config=None,
                log_level=None,
                access_log=False,
                server_header=False,
                ws="none",
                timeout_graceful_shutdown=2,
            )
        )
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises what stopped it
                raise RuntimeError(f"{self.name} stopped while starting")
            await asyncio.sleep(0.01)
        if self.port == 0:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        self._server = self._serving = None
