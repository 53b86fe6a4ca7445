"""The gateway over real sockets: `xyb serve` as a user runs it."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA_KEY
from tests.servers import live_gateway

pytestmark = pytest.mark.slow


def _send_chunked_until_answered(port: int, path: str, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes chunked; stop sending as soon as the server answers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b"z" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answer = b""
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return answer, sent


def test_serve_migrates_answers_and_refuses_a_30mb_chunked_body(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_BODY_LIMIT_DEFAULT": "1MiB"}
    with live_gateway(tmp_path, env, args=("--workers", "2")) as server:
        ready = httpx.get(f"{server.url}/readyz", headers={"X-Request-ID": "live-1"})
        assert ready.status_code == 200, ready.text
        assert ready.headers["x-request-id"] == "live-1"

        answer, sent = _send_chunked_until_answered(server.port, "/problems", 30 * 1024 * 1024)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(body)["limit_bytes"] == 1024 * 1024
        assert sent < 30 * 1024 * 1024  # answered long before the upload could finish

        # The server is unharmed and still answers.
        assert httpx.get(f"{server.url}/healthz").status_code == 200

        # The bounded request head holds in the worker processes uvicorn spawned.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
            )
            assert sock.recv(65536).startswith(b"HTTP/1.1 431 "), "no 431 from a worker"
        time.sleep(0.2)
    log = server.log()
    access = [json.loads(line) for line in log.splitlines() if '"xyb.access"' in line]
    assert any(line["status"] == 413 and line["route"] is None for line in access)
    assert any(line["request_id"] == "live-1" and line["route"] == "/readyz" for line in access)
    assert "database migrated" in log
    assert server.process.returncode == 0  # graceful shutdown on SIGTERM


def test_production_serve_refuses_unmigrated_database(
    tmp_path: Path, fresh_database_url: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        env={
            "PATH": "/usr/bin:/bin",
            "XYB_ENV": "production",
            "XYB_PUBLIC_URL": "https://api.example.gov.cn",
            "XYB_DATA_KEY": DATA_KEY,
            "XYB_ADMIN_TOKEN": "a" * 40,
            "XYB_DATABASE_URL": fresh_database_url,
            "XYB_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "xyb db upgrade" in result.stderr


def test_production_serve_names_the_missing_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        env={"PATH": "/usr/bin:/bin", "XYB_ENV": "production", "XYB_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "XYB_ADMIN_TOKEN is not set" in result.stderr
