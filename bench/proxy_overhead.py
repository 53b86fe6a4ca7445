"""What the gateway adds: throughput, latency and CPU per call, versus calling the upstream.

python -m bench.proxy_overhead [--duration 10] [--connections 32] [--clients aiohttp,httpx]

Starts a city simulator (bench/upstream.py) and `xyb serve` (one worker, fresh SQLite data dir),
onboards the simulator through the admin API, creates a client granted it and takes its access
token, then drives both with wrk: first the simulator directly, then through /gw with the token
(so authentication, the grant check, the rate limit and the upstream assertion are all paid). CPU per call is read from /proc for the gateway process. Results are
printed as a Markdown table (see bench/README.md for the method and the recorded numbers).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.simulators import city_data, openapi_document

TOKEN = "bench-admin-token-0123456789abcdef0123456789"
DIVISION = "430100"


@dataclass
class Run:
    label: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms_per_call: float | None
    non_2xx: int


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's worker), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNIT[m.group(2)]


def _wrk(
    url: str, duration: int, connections: int, headers: tuple[str, ...] = ()
) -> tuple[float, dict[str, float], int, int]:
    extra = [arg for header in headers for arg in ("-H", header)]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    latency = {
        pct: _ms(m.group(1))
        for pct in ("50", "90", "99")
        if (m := re.search(rf"\s{pct}%\s+(\S+)", out))
    }
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency, total, int(bad.group(1)) if bad else 0


def _measure(
    label: str,
    url: str,
    duration: int,
    connections: int,
    pid: int | None,
    headers: tuple[str, ...] = (),
) -> Run:
    _wrk(url, 2, connections, headers)  # warm-up: pools, caches, validators, token cache
    before = _cpu_seconds(pid) if pid else 0.0
    rps, latency, total, bad = _wrk(url, duration, connections, headers)
    cpu = (_cpu_seconds(pid) - before) * 1000 / total if pid else None
    return Run(label, rps, latency["50"], latency["90"], latency["99"], cpu, bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--clients", default="aiohttp,httpx")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")

    resident = next(iter(city_data(DIVISION).fund_accounts))
    path = f"/gjj/accounts/{resident}"
    up_port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    runs: list[Run] = []
    try:
        upstream = subprocess.Popen(
            [sys.executable, "-m", "bench.upstream", "--port", str(up_port)]
        )
        procs.append(upstream)
        _wait(f"http://127.0.0.1:{up_port}/openapi.json")
        runs.append(
            _measure(
                "simulator directly",
                f"http://127.0.0.1:{up_port}{path}",
                args.duration,
                args.connections,
                None,
            )
        )
        for client in args.clients.split(","):
            port = _free_port()
            data_dir = tempfile.mkdtemp(prefix="xyb-bench-")
            env = {
                **os.environ,
                "XYB_DATA_DIR": data_dir,
                "XYB_ADMIN_TOKEN": TOKEN,
                "XYB_UPSTREAM_CLIENT": client,
                "XYB_LOG_LEVEL": "info",  # access log on, as in production
            }
            gateway = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            procs.append(gateway)
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/healthz")
            response = httpx.post(
                f"{base}/admin/services",
                json={
                    "division": DIVISION,
                    "slug": "zwfw",
                    "name": "长沙市政务服务",
                    "upstream_url": f"http://127.0.0.1:{up_port}",
                    "document": openapi_document(DIVISION),
                    "max_concurrency": 1000,
                },
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            response.raise_for_status()
            admin = {"Authorization": f"Bearer {TOKEN}"}
            created = httpx.post(
                f"{base}/admin/clients",
                json={"name": "bench", "kind": "app", "rate_per_s": 1e5, "burst": 1000000},
                headers=admin,
            ).json()
            httpx.post(
                f"{base}/admin/clients/{created['client_id']}/grants",
                json={"division": DIVISION, "slug": "zwfw"},
                headers=admin,
            ).raise_for_status()
            issued = httpx.post(
                f"{base}/identity/token",
                data={"grant_type": "client_credentials"},
                auth=(created["client_id"], created["client_secret"]),
            )
            issued.raise_for_status()
            bearer = f"Authorization: Bearer {issued.json()['access_token']}"
            runs.append(
                _measure(
                    f"through the gateway ({client})",
                    f"{base}/gw/{DIVISION}/zwfw{path}",
                    args.duration,
                    args.connections,
                    gateway.pid,
                    (bearer,),
                )
            )
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=30)
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)

    print(f"\nGET {path} (~0.5 KB JSON), wrk -t1 -c{args.connections} -d{args.duration}s\n")
    print("| path | req/s | p50 ms | p90 ms | p99 ms | gateway CPU ms/call | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        cpu = f"{r.cpu_ms_per_call:.2f}" if r.cpu_ms_per_call is not None else "-"
        print(
            f"| {r.label} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} |"
            f" {r.p99_ms:.2f} | {cpu} | {r.non_2xx} |"
        )


if __name__ == "__main__":
    main()
