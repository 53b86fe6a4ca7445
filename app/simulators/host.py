"""Serve city simulators on real sockets, behind a fault proxy that controls the connection.

::

    async with SimulatorHost(divisions=["430100"]) as host:
        url = host.url("430100")                      # http://127.0.0.1:<port>
        await host.set_faults("430100", reset=True)   # the next request is processed, then RST
        host.received("430100")[("POST", "/jzz/applications")]

One in-process ``uvicorn.Server`` serves every simulator app on an internal loopback port (one
socket each, told apart by the local port). In front of each, a small asyncio TCP proxy listens
on the public port and applies the transport-level faults, read afresh for every connection and
every chunk:

- ``refuse``: the listening socket is closed (connections are refused) and open connections are
  dropped; clearing it listens again on the same port. Set it through ``set_faults`` (a refuse
  flag set directly on ``Faults`` only resets each new connection);
- ``reset``: the request goes to the app (it is received and counted); when its first response
  bytes come back, the client's connection is reset (``SO_LINGER`` 0, RST);
- ``malformed="http"``: the request is read and answered with bytes that are not HTTP;
- otherwise bytes are pumped both ways, so keep-alive connections work.

The app-level faults are the apps' own middleware (``app.simulators.faults``). A control app
(``app.simulators.control``) is served on its own port: ``host.control_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from app.simulators.city import CITY_DIVISIONS, create_city_app
from app.simulators.faults import Faults, Received
from app.simulators.serving import EmbeddedServer

LOOPBACK = "127.0.0.1"
GARBAGE = b"\x16\x03\x01\x00\xa5SIMULATED GARBAGE: this is not HTTP\x00\xff\xfe\r\n\r\n"
_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 1024 * 1024
_CHUNK = 64 * 1024


def _bound_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _swallow_request(reader: asyncio.StreamReader, head: bytes = b"") -> None:
    """Read one request (head, and a body of declared length) so closing sends no RST."""
    while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            return
        head += chunk
    header_block, _, body = head.partition(b"\r\n\r\n")
    for line in header_block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            missing = min(int(value.strip()), _BODY_LIMIT) - len(body)
            if missing > 0:
                with contextlib.suppress(asyncio.IncompleteReadError):
                    await reader.readexactly(missing)


async def _send_garbage(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
) -> None:
    await _swallow_request(reader, head)
    writer.write(GARBAGE)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


class FaultProxy:
    """A TCP proxy from a public port to one simulator's internal port, applying its faults."""

    def __init__(self, faults: Faults, *, host: str, port: int, upstream_port: int) -> None:
        self.faults = faults
        self.host = host
        self.port = port
        self.upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """Whether the public port accepts connections."""
        return self._server is not None

    async def listen(self) -> None:
        """Open the public port (the same one again after a refuse)."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, self.host, self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        """Close the public port and drop every open connection: nothing is listening.

        Returns once the connections are closed, so a client's next request finds them gone.
        """
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=2)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def apply(self) -> None:
        """Listen or not, as ``faults.refuse`` says."""
        if self.faults.refuse:
            await self.stop_listening()
        else:
            await self.listen()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.faults.refuse:
                _reset(writer)
                return
            if self.faults.malformed == "http":
                await _send_garbage(reader, writer, b"")
                return
            try:
                up_reader, upstream = await asyncio.open_connection(LOOPBACK, self.upstream_port)
            except OSError:
                _reset(writer)
                return
            self._writers.add(upstream)
            await self._pump(reader, writer, up_reader, upstream)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            # A connection's top-level task: ending it is all a cancel asks. (Python 3.11's
            # stream callback logs an error for a handler task that ends cancelled.)
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
    ) -> None:
        async def client_to_app() -> None:
            while data := await reader.read(_CHUNK):
                if self.faults.malformed == "http":
                    await _send_garbage(reader, writer, data)
                    return
                upstream.write(data)
                await upstream.drain()

        async def app_to_client() -> None:
            while data := await up_reader.read(_CHUNK):
                if self.faults.reset:
                    _reset(writer)
                    return
                writer.write(data)
                await writer.drain()

        directions = [asyncio.create_task(client_to_app()), asyncio.create_task(app_to_client())]
        try:
            done, _ = await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in directions:
                task.cancel()
            await asyncio.gather(*directions, return_exceptions=True)
        for task in done:
            exc = None if task.cancelled() else task.exception()
            if exc is not None and not isinstance(exc, ConnectionError | OSError):
                raise exc


class _PortDispatcher:
    """One ASGI app over several sockets: the app is chosen by the local port of the request."""

    def __init__(self) -> None:
        self.apps: dict[int, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1]) if server else None
        if app is None:
            raise RuntimeError(f"no simulator serves {server}")
        await app(scope, receive, send)


@dataclass
class Simulator:
    """One hosted simulator: its app, faults, request counts, and the proxy in front of it."""

    name: str
    app: Starlette
    faults: Faults
    received: Received
    proxy: FaultProxy


class SimulatorHost:
    """City simulators on real loopback sockets, with transport-level fault injection.

    ``base_port`` 0 (the default) takes free ports. Otherwise the control app listens on
    ``base_port`` and city ``d`` on ``base_port + 1 + CITY_DIVISIONS.index(d)`` (430100 on
    ``base_port + 1`` ... 433100 on ``base_port + 14``), whichever cities are hosted.
    """

    def __init__(
        self,
        divisions: Iterable[str] = CITY_DIVISIONS,
        *,
        base_port: int = 0,
        host: str = LOOPBACK,
        provider_states: bool = True,
        control: bool = True,
    ) -> None:
        self.divisions = tuple(dict.fromkeys(divisions))
        unknown = [d for d in self.divisions if d not in CITY_DIVISIONS]
        if unknown:
            raise ValueError(f"not prefecture-level divisions of Hunan: {', '.join(unknown)}")
        self.base_port = base_port
        self.host = host
        self.provider_states = provider_states
        self.control = control
        self._simulators: dict[str, Simulator] = {}
        self._control_socket: socket.socket | None = None
        self._server: EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> SimulatorHost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _public_port(self, division: str) -> int:
        return 0 if self.base_port == 0 else self.base_port + 1 + CITY_DIVISIONS.index(division)

    async def start(self) -> None:
        """Serve every simulator (and the control app) and open the public ports."""
        from app.simulators.control import create_control_app

        dispatcher = _PortDispatcher()
        sockets: list[socket.socket] = []
        try:
            for division in self.divisions:
                faults, received = Faults(), Received()
                app = create_city_app(
                    division,
                    faults=faults,
                    received=received,
                    provider_states=self.provider_states,
                )
                internal = _bound_socket(LOOPBACK, 0)
                sockets.append(internal)
                internal_port: int = internal.getsockname()[1]
                proxy = FaultProxy(
                    faults,
                    host=self.host,
                    port=self._public_port(division),
                    upstream_port=internal_port,
                )
                dispatcher.apps[internal_port] = app
                self._simulators[division] = Simulator(division, app, faults, received, proxy)
            if self.control:
                self._control_socket = _bound_socket(self.host, self.base_port)
                sockets.append(self._control_socket)
                dispatcher.apps[self._control_socket.getsockname()[1]] = create_control_app(self)
            self._server = EmbeddedServer(
                uvicorn.Config(
                    dispatcher,
                    lifespan="off",
                    log_config=None,
                    log_level=None,
                    access_log=False,
                    proxy_headers=False,
                    server_header=False,
                    ws="none",
                    timeout_graceful_shutdown=2,
                )
            )
            self._serving = asyncio.create_task(self._server.serve(sockets=sockets))
            while not self._server.started:
                if self._serving.done():
                    self._serving.result()  # raises what stopped it
                    raise RuntimeError("the simulator server stopped while starting")
                await asyncio.sleep(0.01)
            for simulator in self._simulators.values():
                await simulator.proxy.listen()
        except BaseException:
            await self.stop()
            for sock in sockets:
                sock.close()
            raise

    async def stop(self) -> None:
        """Close the public ports and connections, then stop the server."""
        for simulator in self._simulators.values():
            await simulator.proxy.stop_listening()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        self._server = self._serving = None

    # -- what tests use ---------------------------------------------------------------------

    def simulator(self, division: str) -> Simulator:
        """The hosted simulator of ``division``; ``KeyError`` if it is not hosted."""
        try:
            return self._simulators[division]
        except KeyError:
            raise KeyError(f"{division} is not hosted here") from None

    def simulators(self) -> list[Simulator]:
        """Every hosted simulator, in the order given."""
        return list(self._simulators.values())

    def url(self, division: str) -> str:
        """The base URL the city's system answers on (no trailing slash)."""
        return f"http://{self.host}:{self.simulator(division).proxy.port}"

    @property
    def control_url(self) -> str:
        """The base URL of the control app."""
        if self._control_socket is None:
            raise RuntimeError("the control app is not served (control=False or not started)")
        return f"http://{self.host}:{self._control_socket.getsockname()[1]}"

    def faults(self, division: str) -> Faults:
        """The live faults of ``division`` (change refuse through ``set_faults``)."""
        return self.simulator(division).faults

    def received(self, division: str) -> Received:
        """Requests received by ``division``, per (method, path template)."""
        return self.simulator(division).received

    async def set_faults(self, division: str, **changes: Any) -> Faults:
        """Change some faults (``ValueError`` and no change if any is refused), opening or
        closing the public port as ``refuse`` now says."""
        simulator = self.simulator(division)
        simulator.faults.update(**changes)
        await simulator.proxy.apply()
        return simulator.faults

    async def clear_faults(self, division: str) -> Faults:
        """Switch every fault of ``division`` off (listening again if it was refusing)."""
        simulator = self.simulator(division)
        simulator.faults.clear()
        await simulator.proxy.apply()
        return simulator.faults
