"""What the gateway adds: throughput, latency and CPU per call, versus calling the upstream.

python -m bench.proxy_overhead [--duration 10] [--connections 32] [--clients aiohttp,httpx]
    [--counting on|off|on,off] [--rounds 1]

Starts a city simulator (bench/upstream.py) and `xyb serve` (one worker, fresh SQLite data dir),
onboards the simulator through the admin API, creates a client granted it and takes its access
token, then drives both with wrk: first the simulator directly, then through /gw with the token
(so authentication, the grant check, the rate limit and the upstream assertion are all paid). CPU
per call is read from /proc for the gateway process. Results are printed as a Markdown table (see
bench/README.md for the method and the recorded numbers).

Access counting (issue 6: it may cost at most 10%): every gateway run is made with each state
of --counting in turn (``XYB_COUNTING=true`` / ``false``, a fresh gateway and data dir each time),
for --rounds rounds, the order reversed every other round (on,off then off,on ...) so that a
machine getting slower or faster does not favour one state. After a counting-on run the gateway
is stopped gracefully (SIGTERM: the counter writes what it still holds), and the exactness of the
count is checked against three other figures: the calls wrk saw answered (warm-up and measured
run), the /gw lines of the gateway's access log (written by the request middleware, independently
of the counter; the gateway's stderr goes to a file in its data dir in every run), and the calls
the counter says it counted (``xyb_gateway_requests`` from /metrics, scraped once wrk has
stopped). ``SUM(calls)`` of the ``access_counts`` roll-ups, read from the data dir's SQLite database
after the process exited, must equal the access log's and /metrics' figures exactly; wrk's figure
can be lower by at most the calls in flight when each wrk run stopped (one per connection and
run), which the gateway still answers and counts but wrk no longer reads. With both states, the
runs of each round are compared (req/s and CPU per call, on / off, and the medians over the
rounds), and counting's own CPU is measured in-process as well: --counter-calls access events
through the sinks the gateway has with counting off (RecentEvents) and on (a FanOut to
RecentEvents and the Counter), a batch cut and written to a fresh SQLite database every N events
(N = the median req/s with counting off, i.e. one flush interval), CPU by time.process_time().
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.events import AccessEvent, AccessEventSink, FanOut, Outcome, RecentEvents
from app.services.counting import Counter
from app.simulators import city_data, openapi_document

TOKEN = "bench-admin-token-0123456789abcdef0123456789"
DIVISION = "430100"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Run:
    label: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms_per_call: float | None
    non_2xx: int
    answered: int  # calls wrk read an answer to, warm-up included
    counting: str | None = None  # "on" / "off" for gateway runs
    client: str = ""
    round_no: int = 0


@dataclass
class CountCheck:
    """The three counts of one counting-on run (see the module docstring)."""

    label: str
    answered: int  # by wrk, warm-up included
    logged: int  # /gw lines in the access log
    served: int | None  # xyb_gateway_requests from /metrics
    stored: int  # SUM(calls) in access_counts
    rows: int  # roll-up rows
    by_outcome: dict[str, int]
    shutdown: str  # what the counter logged when the gateway stopped


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
    url: str,
    duration: int,
    connections: int,
    headers: tuple[str, ...] = (),
    script: str | None = None,
) -> tuple[float, dict[str, float], int, int]:
    """One wrk run (``script``: a Lua file deciding the requests, e.g. a mix of methods)."""
    extra = [arg for header in headers for arg in ("-H", header)]
    if script is not None:
        extra += ["-s", script]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
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
    script: str | None = None,
) -> Run:
    # Warm-up: pools, caches, validators, token cache.
    _, _, warm_total, warm_bad = _wrk(url, 2, connections, headers, script)
    before = _cpu_seconds(pid) if pid else 0.0
    rps, latency, total, bad = _wrk(url, duration, connections, headers, script)
    cpu = (_cpu_seconds(pid) - before) * 1000 / total if pid else None
    return Run(
        label,
        rps,
        latency["50"],
        latency["90"],
        latency["99"],
        cpu,
        bad + warm_bad,
        total + warm_total,
    )


def _start_gateway(
    client: str,
    counting: str,
    up_port: int,
    data_dir: str,
    extra_env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`xyb serve` on a fresh data dir, the simulator onboarded; (process, base URL, bearer).
    ``extra_env`` adds settings (``XYB_AUDIT`` for bench/audit_overhead.py)."""
    port = _free_port()
    env = {
        **os.environ,
        "XYB_DATA_DIR": data_dir,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_UPSTREAM_CLIENT": client,
        "XYB_LOG_LEVEL": "info",  # access log on, as in production
        "XYB_COUNTING": "true" if counting == "on" else "false",
        **(extra_env or {}),
    }
    env.pop("XYB_DATABASE_URL", None)  # the data dir's SQLite file, read after the run
    with open(Path(data_dir) / "gateway.log", "wb") as log:  # the child keeps its own handle
        gateway = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
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
            headers=ADMIN,
            timeout=60,
        )
        response.raise_for_status()
        created = httpx.post(
            f"{base}/admin/clients",
            json={"name": "bench", "kind": "app", "rate_per_s": 1e5, "burst": 1000000},
            headers=ADMIN,
        ).json()
        httpx.post(
            f"{base}/admin/clients/{created['client_id']}/grants",
            json={"division": DIVISION, "slug": "zwfw"},
            headers=ADMIN,
        ).raise_for_status()
        issued = httpx.post(
            f"{base}/identity/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
        )
        issued.raise_for_status()
    except BaseException:
        _stop(gateway)
        raise
    return gateway, base, f"Authorization: Bearer {issued.json()['access_token']}"


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (uvicorn's graceful shutdown, the app's lifespan included); its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def _served(base: str) -> int | None:
    """Calls through /gw the gateway reports (xyb_gateway_requests), or None without counting."""
    response = httpx.get(f"{base}/metrics", headers=ADMIN, timeout=10)
    response.raise_for_status()
    samples = re.findall(
        r"^xyb_gateway_requests_total\{[^}]*\} ([0-9.e+]+)$", response.text, re.MULTILINE
    )
    return int(sum(float(v) for v in samples)) if samples else None


def _stored(data_dir: str) -> tuple[int, int, dict[str, int]]:
    """(SUM(calls), rows, calls by outcome) of access_counts in the data dir's database."""
    with sqlite3.connect(f"file:{Path(data_dir) / 'xyb.db'}?mode=ro", uri=True) as conn:
        calls, rows = conn.execute(
            "SELECT COALESCE(SUM(calls), 0), COUNT(*) FROM access_counts"
        ).fetchone()
        by_outcome = dict(
            conn.execute(
                "SELECT outcome, SUM(calls) FROM access_counts GROUP BY outcome"
            ).fetchall()
        )
    return int(calls), int(rows), {str(k): int(v) for k, v in by_outcome.items()}


def _logged(data_dir: str, logger: str = "xyb.counting") -> tuple[int, str]:
    """(/gw lines of the access log, ``logger``'s lines, e.g. the counter's at shutdown) from the
    gateway's stderr."""
    calls = 0
    shutdown: list[str] = []
    for line in (Path(data_dir) / "gateway.log").read_text("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("logger") == "xyb.access":
            calls += str(record.get("route") or "").startswith("/gw/")
        elif record.get("logger") == logger:
            shutdown.append(str(record.get("msg")))
    return calls, "; ".join(shutdown) or "(nothing logged)"


def _order(states: list[str], rounds: int) -> list[str]:
    """The states for every round, reversed every other round (on,off,off,on,...)."""
    out: list[str] = []
    for n in range(rounds):
        out += states if n % 2 == 0 else states[::-1]
    return out


async def _counting_cpu(calls: int, per_batch: int) -> tuple[float, float, float]:
    """Counting's own CPU per call, in-process: (the sinks without the counter, the counter's
    emit, writing its batches), in µs. The gateway's sinks are RecentEvents alone with counting
    off, and a FanOut to RecentEvents and the Counter with it on; every ``per_batch`` calls (one
    flush interval at the gateway's rate) the batch is cut and written to a fresh SQLite database
    at head, as the flusher does. CPU is the process's (aiosqlite's thread included)."""
    with tempfile.TemporaryDirectory(prefix="xyb-bench-counter-") as tmp:
        settings = Settings(data_dir=Path(tmp), log_level="warning")
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            counter = Counter.from_settings(settings, sessionmaker=create_sessionmaker(engine))
            off: AccessEventSink = RecentEvents()
            on: AccessEventSink = FanOut(RecentEvents(), counter)
            emit_off = emit_on = write = 0.0
            for start in range(0, calls, per_batch):
                events = [
                    AccessEvent(
                        event_id=uuid.uuid4().hex,
                        request_id=uuid.uuid4().hex,
                        at=datetime.now(UTC),
                        client_id="bench-client-0123456789",
                        division=DIVISION,
                        service_id=1,
                        service=f"{DIVISION}/zwfw",
                        operation_id="getFundAccount",
                        item_code="000000000000000000000000",
                        method="GET",
                        status=200,
                        outcome=Outcome.SUCCESS,
                        from_upstream=True,
                        upstream_ms=4.2,
                        total_ms=(start % 97) / 3,
                    )
                    for _ in range(min(per_batch, calls - start))
                ]
                started = time.process_time()
                for event in events:
                    off.emit(event)
                emit_off += time.process_time() - started
                started = time.process_time()
                for event in events:
                    on.emit(event)
                emit_on += time.process_time() - started
                started = time.process_time()
                assert await counter.flush()
                write += time.process_time() - started
            assert counter.stats().events == calls
        finally:
            await engine.dispose()
    per_call = 1e6 / calls
    return emit_off * per_call, (emit_on - emit_off) * per_call, write * per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--clients", default="aiohttp,httpx")
    parser.add_argument(
        "--counting",
        default="on",
        help="XYB_COUNTING for the gateway runs: on, off, or both in order (on,off)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the gateway runs, alternating the order"
    )
    parser.add_argument(
        "--counter-calls",
        type=int,
        default=300_000,
        help="calls for the in-process measurement of counting's own CPU (with --counting on,off)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    states = [s.strip() for s in args.counting.split(",") if s.strip()]
    if not states or any(s not in ("on", "off") for s in states):
        sys.exit("--counting takes on, off or on,off")

    resident = next(iter(city_data(DIVISION).fund_accounts))
    path = f"/gjj/accounts/{resident}"
    up_port = _free_port()
    upstream: subprocess.Popen[bytes] | None = None
    runs: list[Run] = []
    checks: list[CountCheck] = []
    try:
        upstream = subprocess.Popen(
            [sys.executable, "-m", "bench.upstream", "--port", str(up_port)]
        )
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
        for round_no, counting in enumerate(_order(states, args.rounds)):
            for client in args.clients.split(","):
                data_dir = tempfile.mkdtemp(prefix="xyb-bench-")
                try:
                    gateway, base, bearer = _start_gateway(client, counting, up_port, data_dir)
                    label = f"through the gateway ({client}"
                    if len(states) > 1 or args.counting != "on":
                        label += f", counting {counting}"
                    if args.rounds > 1:
                        label += f", round {round_no // len(states) + 1}"
                    label += ")"
                    try:
                        run = _measure(
                            label,
                            f"{base}/gw/{DIVISION}/zwfw{path}",
                            args.duration,
                            args.connections,
                            gateway.pid,
                            (bearer,),
                        )
                        run.counting = counting
                        run.client = client
                        run.round_no = round_no // len(states) + 1
                        runs.append(run)
                        time.sleep(1)  # calls in flight when wrk stopped are finished
                        served = _served(base)
                    finally:
                        code = _stop(gateway)
                    # uvicorn re-raises the SIGTERM it handled once it has shut down.
                    if code not in (0, -signal.SIGTERM):
                        print(f"warning: the gateway exited with {code}", file=sys.stderr)
                    if counting == "on":
                        stored, rows, by_outcome = _stored(data_dir)
                        logged, shutdown = _logged(data_dir)
                        checks.append(
                            CountCheck(
                                label,
                                run.answered,
                                logged,
                                served,
                                stored,
                                rows,
                                by_outcome,
                                shutdown,
                            )
                        )
                finally:
                    shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        if upstream is not None:
            _stop(upstream)

    print(f"\nGET {path} (~0.5 KB JSON), wrk -t1 -c{args.connections} -d{args.duration}s\n")
    print("| path | req/s | p50 ms | p90 ms | p99 ms | gateway CPU ms/call | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        cpu = f"{r.cpu_ms_per_call:.2f}" if r.cpu_ms_per_call is not None else "-"
        print(
            f"| {r.label} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} |"
            f" {r.p99_ms:.2f} | {cpu} | {r.non_2xx} |"
        )
    if len(states) > 1:
        _print_cost(runs, args.clients.split(","))
        per_batch = round(
            statistics.median([r.requests_per_s for r in runs if r.counting == "off"] or [1000])
        )
        sinks, emit, write = asyncio.run(_counting_cpu(args.counter_calls, max(1, per_batch)))
        print(
            f"\ncounting's own CPU, in-process ({args.counter_calls:,} calls, a batch written"
            f" every {per_batch:,} calls): emit {emit:.2f} µs/call, writing the batches"
            f" {write:.2f} µs/call (the sinks without the counter: {sinks:.2f} µs/call)"
        )
    if checks:
        _print_checks(checks, args.connections)


def _print_cost(runs: list[Run], clients: list[str]) -> None:
    """Counting on against off, round by round (the two runs of a round are adjacent in time, so
    their ratio is the least disturbed by the machine's other work), then the medians."""
    print(
        "\n| client | round | order | req/s on | req/s off | on / off |"
        " CPU ms/call on | CPU ms/call off | on / off |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for client in clients:
        rps_ratios: list[float] = []
        cpu_ratios: list[float] = []
        for round_no in sorted({r.round_no for r in runs if r.client == client}):
            pair = {r.counting: r for r in runs if r.client == client and r.round_no == round_no}
            on, off = pair.get("on"), pair.get("off")
            if on is None or off is None:
                continue
            first = next(r for r in runs if r in (on, off))
            rps_ratios.append(on.requests_per_s / off.requests_per_s)
            cpu_ratios.append((on.cpu_ms_per_call or 0.0) / (off.cpu_ms_per_call or 1.0))
            print(
                f"| {client} | {round_no} | {first.counting} first |"
                f" {on.requests_per_s:,.0f} | {off.requests_per_s:,.0f} | {rps_ratios[-1]:.3f} |"
                f" {on.cpu_ms_per_call or 0.0:.3f} | {off.cpu_ms_per_call or 0.0:.3f} |"
                f" {cpu_ratios[-1]:.3f} |"
            )
        if rps_ratios:
            print(
                f"\n{client}, median of {len(rps_ratios)} rounds: counting on gives"
                f" {(statistics.median(rps_ratios) - 1) * 100:+.1f}% req/s and"
                f" {(statistics.median(cpu_ratios) - 1) * 100:+.1f}% CPU per call"
                " (issue 6: at most 10% cost)"
            )


def _print_checks(checks: list[CountCheck], connections: int) -> None:
    """Whether every call served was counted, once."""
    print(
        "\n| counting-on run | answered (wrk) | /gw lines in the access log | counted (/metrics)"
        " | SUM(calls) in access_counts | roll-up rows | all three equal | stored - answered |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for c in checks:
        same = "yes" if c.served == c.stored == c.logged else "**no**"
        served = f"{c.served:,}" if c.served is not None else "-"
        print(
            f"| {c.label} | {c.answered:,} | {c.logged:,} | {served} | {c.stored:,} | {c.rows} |"
            f" {same} | {c.stored - c.answered:+,} |"
        )
    print(
        f"\nstored - answered may be 0 to {2 * connections} (calls in flight when each of the"
        " two wrk runs stopped)."
    )
    for c in checks:
        print(f"{c.label}: calls by outcome {c.by_outcome}; at shutdown: {c.shutdown}")


if __name__ == "__main__":
    main()
