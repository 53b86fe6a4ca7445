"""A loopback upstream that records every request exactly as it arrived on the socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Recorded:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]  # names lower-cased, values as sent
    body: bytes

    def header(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k == name]


class RecordingUpstream:
    """Answers every request ``200 {"ok": true}`` and keeps what it received, byte for byte."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head[:-4].split(b"\r\n")
                method, target, _ = lines[0].split(b" ", 2)
                headers = []
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers.append((name.strip().lower(), value.strip(b" \t")))
                length = sum(int(v) for k, v in headers if k == b"content-length")
                body = await reader.readexactly(length) if length else b""
                self.requests.append(Recorded(method, target, headers, body))
                answer = json.dumps({"ok": True}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer
                )
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RecordingUpstream]:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            self._server.close()
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def recording_upstream() -> AsyncIterator[RecordingUpstream]:
    async with RecordingUpstream().running() as upstream:
        yield upstream
