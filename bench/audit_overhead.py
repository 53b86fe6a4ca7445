"""What the audit log costs a call: the gateway with XYB_AUDIT=true against =false, paired rounds.

python -m bench.audit_overhead [--duration 10] [--connections 32] [--rounds 4] [--order on,off]
    [--audit-calls 100000] [--profile]

The method is bench/proxy_overhead.py's counting on/off comparison (its helpers are imported, not
copied): a city simulator alone as the upstream (bench/upstream.py), and for every run a fresh
`xyb serve` (one worker, aiohttp transport, identity on, counting on, access log to a file in its
fresh SQLite data dir) started with ``XYB_AUDIT=true`` or ``false``, the simulator onboarded, a
client granted it and its token taken. wrk (one thread, a Lua script) then sends through /gw,
alternately, ``GET /gjj/accounts/{id}`` (a ~0.5 KB JSON answer) and ``POST /jzz/applications``
with a ~1 KB JSON body (validated against the document, answered 201): 2 s of warm-up, then
--duration seconds measured; req/s from wrk, the gateway process's CPU per call from /proc. Each
round runs both states back to back and the order flips every round (on,off / off,on / ...), so
that the machine drifting does not favour one state; audit's cost is read from the ratio of the
two runs of a round, and the medians of those ratios.

After every audit-on run the gateway is stopped with SIGTERM (the lifespan writes what the audit
log still holds, and a final checkpoint), and the records are checked in the data dir's SQLite
database once the process has exited: the ``kind = 'call'`` rows of ``audit_records`` must equal
the /gw lines of the access log and the calls the counter reports on /metrics exactly (what wrk
read is lower by at most the calls in flight when its two runs stopped), and every chain must
verify (``app.services.audit.verify.verify_database``: hashes, links, checkpoint signatures) with
no record after the last checkpoint.

Audit's own CPU is measured in-process too: --audit-calls access events (digests and subject
filled, as the proxy fills them) through ``AuditLog.emit``, a batch cut and written to a fresh
SQLite database at head every N events (N = the median req/s with audit off: one flush interval),
checkpoints signed with a real Ed25519 key; CPU by ``time.process_time()`` (aiosqlite's thread
included). --profile adds cProfile's view of those flushes (where the time goes).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.events import AccessEvent, Outcome
from app.identity.keys import generate_key
from app.services.audit.log import AuditBatch, AuditLog
from app.services.audit.verify import Report, verify_database
from app.simulators import city_data
from app.simulators.city.examples import residence_permit_example
from bench.proxy_overhead import (
    DIVISION,
    Run,
    _free_port,
    _logged,
    _measure,
    _order,
    _served,
    _start_gateway,
    _stop,
    _wait,
)

CLIENT = "aiohttp"
POST_PATH = "/jzz/applications"
BODY_BYTES = 1024


@dataclass
class AuditCheck:
    """The figures of one audit-on run (see the module docstring)."""

    label: str
    answered: int  # by wrk, warm-up included
    logged: int  # /gw lines in the access log
    served: int | None  # xyb_gateway_requests from /metrics (the counter)
    calls: int  # kind = 'call' rows of audit_records
    by_method: dict[str, int]
    admin: int  # kind = 'admin' rows (onboarding, client, grant)
    checkpoints: int
    verified: bool
    verify_note: str  # the first break, or where the chains end
    uncovered: int  # records after the last checkpoint (0 after a graceful stop)
    shutdown: str  # what the audit log logged


def post_body() -> bytes:
    """A residence permit application the simulator accepts, padded to ~1 KB with a field the
    document does not declare (it allows them) and the city ignores."""
    body = residence_permit_example(DIVISION)
    body["remarks"] = ""
    room = BODY_BYTES - len(json.dumps(body, ensure_ascii=False).encode())
    phrase = "随附材料：居住证明、劳动合同、社保缴费记录。"
    size = len(phrase.encode())
    body["remarks"] = phrase * (room // size) + "x" * (room % size)
    return json.dumps(body, ensure_ascii=False).encode()


def _lua(post_path: str, body: bytes) -> str:
    """A wrk script alternating the GET of the URL wrk is given and a JSON POST to post_path."""
    text = body.decode()
    assert "]==]" not in text
    return f"""
local n = 0
local post_headers = nil
request = function()
  n = n + 1
  if n % 2 == 0 then
    if post_headers == nil then
      post_headers = {{}}
      for k, v in pairs(wrk.headers) do post_headers[k] = v end
      post_headers["Content-Type"] = "application/json"
    end
    return wrk.format("POST", "{post_path}", post_headers, [==[{text}]==])
  end
  return wrk.format("GET", nil, nil, nil)
end
"""


def _check(label: str, run: Run, data_dir: str, served: int | None) -> AuditCheck:
    """The audit records of a stopped gateway's data dir, counted and verified."""
    with sqlite3.connect(f"file:{Path(data_dir) / 'xyb.db'}?mode=ro", uri=True) as conn:
        by_kind = dict(conn.execute("SELECT kind, COUNT(*) FROM audit_records GROUP BY kind"))
        by_method = dict(
            conn.execute(
                "SELECT method, COUNT(*) FROM audit_records WHERE kind = 'call' GROUP BY method"
            )
        )
        (checkpoints,) = conn.execute("SELECT COUNT(*) FROM audit_checkpoints").fetchone()
    report = asyncio.run(_verify(data_dir))
    if report.first is not None:
        note = report.first.sentence()
    else:
        note = "; ".join(
            f"{w.writer}: seq {w.first_seq}-{w.last_seq}, {w.checkpoints} checkpoints,"
            f" covered to {w.covered_to}"
            for w in report.writers
        )
    logged, shutdown = _logged(data_dir, "xyb.audit")
    return AuditCheck(
        label,
        run.answered,
        logged,
        served,
        int(by_kind.get("call", 0)),
        {str(k): int(v) for k, v in by_method.items()},
        int(by_kind.get("admin", 0)),
        int(checkpoints),
        report.ok,
        note,
        sum(w.uncovered for w in report.writers),
        shutdown,
    )


async def _verify(data_dir: str) -> Report:
    settings = Settings(data_dir=Path(data_dir), log_level="warning")
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await verify_database(session)
    finally:
        await engine.dispose()


def _event(n: int) -> AccessEvent:
    post = n % 2 == 1
    return AccessEvent(
        event_id=uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
        at=datetime.now(UTC),
        client_id="bench-client-0123456789",
        division=DIVISION,
        service_id=1,
        service=f"{DIVISION}/zwfw",
        operation_id="createResidencePermitApplication" if post else "getFundAccount",
        item_code="000000000000000000000000",
        method="POST" if post else "GET",
        status=201 if post else 200,
        outcome=Outcome.SUCCESS,
        from_upstream=True,
        upstream_ms=4.2,
        total_ms=(n % 97) / 3,
        subject=uuid.uuid4().hex + uuid.uuid4().hex,
        request_digest=uuid.uuid4().hex + uuid.uuid4().hex,
        response_digest=uuid.uuid4().hex + uuid.uuid4().hex,
    )


class _TimedAudit(AuditLog):
    """The audit log, with the CPU its batch cutting (fields, hashes, checkpoint signature) took,
    so that a flush's cost splits into cutting and writing."""

    cut_seconds = 0.0

    def _cut(self, *, final: bool = False) -> AuditBatch | None:
        started = time.process_time()
        try:
            return super()._cut(final=final)
        finally:
            self.cut_seconds += time.process_time() - started


async def _audit_cpu(
    calls: int, per_batch: int, profiler: cProfile.Profile | None = None
) -> tuple[float, float, float, int]:
    """Audit's own CPU per call, in-process, in µs: (emit, cutting the batches, writing them),
    and the checkpoints written. With ``profiler``, the flushes are profiled (and the times, which
    then include the profiler's own, are not worth reporting)."""
    with tempfile.TemporaryDirectory(prefix="xyb-bench-audit-") as tmp:
        settings = Settings(data_dir=Path(tmp), log_level="warning")
        engine = create_engine(settings)
        key = generate_key(datetime.now(UTC))
        try:
            await upgrade(engine)
            audit = _TimedAudit.from_settings(
                settings, sessionmaker=create_sessionmaker(engine), signer=lambda: key
            )
            assert isinstance(audit, _TimedAudit)
            emit = flush = 0.0
            for start in range(0, calls, per_batch):
                events = [_event(n) for n in range(start, min(start + per_batch, calls))]
                started = time.process_time()
                for event in events:
                    audit.emit(event)
                emit += time.process_time() - started
                started = time.process_time()
                if profiler is not None:
                    profiler.enable()
                assert await audit.flush()
                if profiler is not None:
                    profiler.disable()
                flush += time.process_time() - started
            assert await audit.flush(final=True)
            stats = audit.stats()
            assert stats.written_seq == calls, stats
        finally:
            await engine.dispose()
    per_call = 1e6 / calls
    cut = audit.cut_seconds * per_call
    return emit * per_call, cut, flush * per_call - cut, stats.checkpoints_written


def _profile(calls: int, per_batch: int) -> str:
    """cProfile's top functions (by own time) of the flushes of ``calls`` calls."""
    profiler = cProfile.Profile()
    asyncio.run(_audit_cpu(calls, per_batch, profiler))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--order", default="on,off", help="the first round's order (on,off or off,on)"
    )
    parser.add_argument("--audit-calls", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process flushes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    states = [s.strip() for s in args.order.split(",")]
    if sorted(states) != ["off", "on"]:
        sys.exit("--order takes on,off or off,on")

    resident = next(iter(city_data(DIVISION).fund_accounts))
    get_path = f"/gjj/accounts/{resident}"
    body = post_body()
    up_port = _free_port()
    upstream: subprocess.Popen[bytes] | None = None
    runs: list[Run] = []
    checks: list[AuditCheck] = []
    started_at = datetime.now(UTC)
    load = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="xyb-bench-") as script:
        script.write(_lua(f"/gw/{DIVISION}/zwfw{POST_PATH}", body))
        script.flush()
        try:
            upstream = subprocess.Popen(
                [sys.executable, "-m", "bench.upstream", "--port", str(up_port)]
            )
            _wait(f"http://127.0.0.1:{up_port}/openapi.json")
            for n, audit in enumerate(_order(states, args.rounds)):
                round_no = n // 2 + 1
                data_dir = tempfile.mkdtemp(prefix="xyb-bench-")
                try:
                    gateway, base, bearer = _start_gateway(
                        CLIENT,
                        "on",
                        up_port,
                        data_dir,
                        {"XYB_AUDIT": "true" if audit == "on" else "false"},
                    )
                    label = f"audit {audit}, round {round_no}"
                    try:
                        run = _measure(
                            label,
                            f"{base}/gw/{DIVISION}/zwfw{get_path}",
                            args.duration,
                            args.connections,
                            gateway.pid,
                            (bearer,),
                            script.name,
                        )
                        run.counting = audit  # the state compared, in Run's field for it
                        run.round_no = round_no
                        runs.append(run)
                        print(
                            f"{label}: {run.requests_per_s:,.0f} req/s,"
                            f" {(run.cpu_ms_per_call or 0) * 1000:.0f} µs CPU/call",
                            file=sys.stderr,
                        )
                        time.sleep(1)  # calls in flight when wrk stopped are finished
                        served = _served(base)
                    finally:
                        code = _stop(gateway)
                    if code not in (0, -signal.SIGTERM):
                        print(f"warning: the gateway exited with {code}", file=sys.stderr)
                    if audit == "on":
                        checks.append(_check(label, run, data_dir, served))
                finally:
                    shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            if upstream is not None:
                _stop(upstream)
    ended_at = datetime.now(UTC)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    print(
        f"\nGET {get_path} and POST {POST_PATH} ({len(body):,} B JSON) alternately,"
        f" wrk -t1 -c{args.connections} -d{args.duration}s, {started_at:%Y-%m-%d %H:%M}-"
        f"{ended_at:%H:%M} UTC, load average {' '.join(load)} before, {' '.join(load_after)}"
        " after\n"
    )
    _print_rounds(runs)
    per_batch = round(
        statistics.median([r.requests_per_s for r in runs if r.counting == "off"] or [1000])
    )
    emit, cut, write, checkpoints = asyncio.run(_audit_cpu(args.audit_calls, max(1, per_batch)))
    print(
        f"\naudit's own CPU, in-process ({args.audit_calls:,} calls, a batch written every"
        f" {per_batch:,} calls, {checkpoints} checkpoints): emit {emit:.2f} µs/call, cutting"
        f" the batches (fields, hashes, signatures) {cut:.2f} µs/call, writing them"
        f" {write:.2f} µs/call"
    )
    if args.profile:
        calls = min(args.audit_calls, 20_000)
        print(f"\ncProfile of the flushes of {calls:,} calls:\n{_profile(calls, per_batch)}")
    _print_checks(checks, args.connections)


def _print_rounds(runs: list[Run]) -> None:
    """Audit on against off, round by round, then the medians (as bench.proxy_overhead does)."""
    print(
        "| round | order | req/s on | req/s off | on / off | CPU µs/call on | CPU µs/call off"
        " | on / off |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rps_ratios: list[float] = []
    cpu_ratios: list[float] = []
    for round_no in sorted({r.round_no for r in runs}):
        pair = {r.counting: r for r in runs if r.round_no == round_no}
        on, off = pair.get("on"), pair.get("off")
        if on is None or off is None:
            continue
        first = next(r for r in runs if r in (on, off))
        rps_ratios.append(on.requests_per_s / off.requests_per_s)
        cpu_ratios.append((on.cpu_ms_per_call or 0.0) / (off.cpu_ms_per_call or 1.0))
        print(
            f"| {round_no} | {first.counting} first | {on.requests_per_s:,.0f} |"
            f" {off.requests_per_s:,.0f} | {rps_ratios[-1]:.3f} |"
            f" {(on.cpu_ms_per_call or 0.0) * 1000:.0f} | {(off.cpu_ms_per_call or 0.0) * 1000:.0f}"
            f" | {cpu_ratios[-1]:.3f} |"
        )
    if not rps_ratios:
        return
    print(
        f"| **median** | | | | **{statistics.median(rps_ratios):.3f}** | | |"
        f" **{statistics.median(cpu_ratios):.3f}** |"
    )
    print("\n| state | req/s | p50 ms | p90 ms | p99 ms | gateway CPU µs/call | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for state in ("on", "off"):
        mine = [r for r in runs if r.counting == state]
        print(
            f"| audit {state} (median of {len(mine)}) |"
            f" {statistics.median(r.requests_per_s for r in mine):,.0f} |"
            f" {statistics.median(r.p50_ms for r in mine):.2f} |"
            f" {statistics.median(r.p90_ms for r in mine):.2f} |"
            f" {statistics.median(r.p99_ms for r in mine):.2f} |"
            f" {statistics.median((r.cpu_ms_per_call or 0.0) for r in mine) * 1000:.0f} |"
            f" {sum(r.non_2xx for r in mine)} |"
        )
    print(
        f"\nmedian of {len(rps_ratios)} rounds: audit on gives"
        f" {(statistics.median(rps_ratios) - 1) * 100:+.1f}% req/s and"
        f" {(statistics.median(cpu_ratios) - 1) * 100:+.1f}% CPU per call"
        " (issue 11: at most 10% cost)"
    )


def _print_checks(checks: list[AuditCheck], connections: int) -> None:
    """Whether every call served is in audit_records, once, and the chains verify."""
    print(
        "\n| audit-on run | answered (wrk) | /gw lines in the access log | counted (/metrics)"
        " | call records | GET / POST | all three equal | records - answered | admin records"
        " | checkpoints | chain verifies | after the last checkpoint |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | ---: |")
    for c in checks:
        same = "yes" if c.served == c.calls == c.logged else "**no**"
        served = f"{c.served:,}" if c.served is not None else "-"
        methods = f"{c.by_method.get('GET', 0):,} / {c.by_method.get('POST', 0):,}"
        print(
            f"| {c.label} | {c.answered:,} | {c.logged:,} | {served} | {c.calls:,} | {methods} |"
            f" {same} | {c.calls - c.answered:+,} | {c.admin} | {c.checkpoints} |"
            f" {'yes' if c.verified else '**no**'} | {c.uncovered} |"
        )
    print(
        f"\nrecords - answered may be 0 to {2 * connections} (calls in flight when each of the"
        " two wrk runs stopped)."
    )
    for c in checks:
        print(f"{c.label}: {c.verify_note}; at shutdown: {c.shutdown}")


if __name__ == "__main__":
    main()
