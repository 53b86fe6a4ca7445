"""Run the gateway as a real process on a free loopback port, for tests that need real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.log_guard import check_output

# Settings whose values no line of a live server's output may show.
SECRET_SETTINGS = (
    "XYB_ADMIN_TOKEN",
    "XYB_DATA_KEY",
    "XYB_METRICS_TOKEN",
    "XYB_ENTERPRISE_REGISTER_TOKEN",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the demo's simulators use a run)."""
    import random

    rng = random.Random()  # noqa: S311  (picking ports, not secrets)
    for _ in range(200):
        base = rng.randrange(20000, 60000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no run of {count} free ports")


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def live_gateway(
    tmp_path: Path, env: Mapping[str, str], *, args: tuple[str, ...] = (), timeout: float = 60
) -> Iterator[LiveServer]:
    """``xyb serve`` in a subprocess; stopped with SIGTERM (graceful) when the block ends.

    When the block ends without an error, the server's whole output is checked by the suite's log
    guard (tests/log_guard.py): no personal data, token or configured secret in any line.
    """
    port = free_port()
    clean_exit = False
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / f"serve-{port}.log"
    full_env = {**os.environ, "XYB_DATA_DIR": str(tmp_path / "data"), **env}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not answer within {timeout} s:\n{server.log()}")
            time.sleep(0.1)
        yield server
        clean_exit = True
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if clean_exit:
        secrets = [full_env[name] for name in SECRET_SETTINGS if full_env.get(name)]
        check_output(server.log(), source=f"the output of xyb serve (port {port})", secrets=secrets)
