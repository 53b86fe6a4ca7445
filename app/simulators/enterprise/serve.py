"""Serve the enterprise register on a real socket (what ``xyb demo`` runs beside the cities).

::

    async with RegisterServer(port=9015, consumer_token=token) as register:
        register.url  # http://127.0.0.1:9015
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from app.simulators.enterprise.app import create_register_app

LOOPBACK = "127.0.0.1"


class _Server(uvicorn.Server):
    """uvicorn without signal handlers: the process that embeds it owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RegisterServer:
    """The simulated register on ``host:port`` (0: a free port), in this process's event loop."""

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int = 1,
        consumer_token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        # Only the holder of consumer_token (the gateway) is given ID numbers.
        self.app: Starlette = create_register_app(seed=seed, consumer_token=consumer_token)
        self._server: _Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL the register answers on (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> RegisterServer:
        self._server = _Server(
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
                raise RuntimeError("the enterprise register stopped while starting")
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
