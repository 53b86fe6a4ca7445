"""``/metrics`` of one ``xyb serve --workers 2``: the same figures whichever worker answers.

Every call and every scrape opens a new connection, so the kernel hands each to either worker.
Between scrapes no counter may go back (Prometheus would read a reset), and once the workers have
written their figures the requests counted add up to every call made through /gw, both workers'
share included. A request head the server refuses (431) never reaches the app: it is no call, in
/metrics or in the roll-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.services.metrics import merge_files
from app.simulators import city_data
from tests.counting.support import database_calls, onboard_live
from tests.servers import free_port, live_gateway

pytestmark = pytest.mark.slow

CITY = "430300"
TOKEN = "metrics-workers-admin-token-0123456789abcdef"
SCRAPE_TOKEN = "metrics-workers-scrape-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ROUNDS = 4
SCRAPES_PER_ROUND = 6
MONOTONIC_TYPES = {"counter", "histogram"}

Series = tuple[str, frozenset[tuple[str, str]]]


def _scrape(url: str) -> tuple[dict[Series, float], dict[Series, float]]:
    """(counter and histogram samples, gauge samples) of one scrape on a new connection."""
    answer = httpx.get(
        url + "/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    monotonic: dict[Series, float] = {}
    gauges: dict[Series, float] = {}
    for family in text_string_to_metric_families(answer.text):
        into = monotonic if family.type in MONOTONIC_TYPES else gauges
        for sample in family.samples:
            into[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return monotonic, gauges


def _head_too_large(port: int, path: str, bearer: str) -> bytes:
    """A request head over the server's 32 KiB limit; the answer's status line."""
    head = (
        f"GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {bearer}\r\n"
        f"Connection: close\r\nX-Pad: {'p' * 40_000}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # The server may answer and close before the whole head is sent.
        with contextlib.suppress(OSError):
            sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def _requests(samples: dict[Series, float]) -> float:
    return sum(v for (name, _), v in samples.items() if name == "xyb_gateway_requests_total")


def _per_worker_requests(tmp: Path) -> list[float]:
    """What each worker wrote to its own file (the server's directory is under our TMPDIR)."""
    totals = []
    for path in sorted(tmp.glob("xyb-metrics-*/counter_*.db")):
        metrics = merge_files([str(path)])
        totals.append(
            sum(
                s.value
                for m in metrics
                for s in m.samples
                if s.name == "xyb_gateway_requests_total"
            )
        )
    return totals


async def test_counters_never_go_back_whichever_worker_answers(
    tmp_path: Path, fresh_database_url: str
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_METRICS_TOKEN": SCRAPE_TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
        "TMPDIR": str(tmp),
    }
    resident = next(iter(city_data(CITY).fund_accounts))
    with live_gateway(tmp_path, env, args=("--workers", "2")) as server:
        # No keep-alive: each call is a new connection, taken by whichever worker accepts it.
        async with httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
        ) as client:
            caller = await onboard_live(
                client,
                server.url,
                ADMIN,
                division=CITY,
                upstream=f"http://127.0.0.1:{free_port()}",  # nobody listens: refused, then open
                retries=0,
            )
            plan = [
                (f"/gw/{CITY}/zwfw/gjj/accounts/{resident}", caller),  # 503: refused, breaker
                (f"/gw/{CITY}/no-such-service/x", caller),  # 404, refused before routing
                (f"/gw/{CITY}/zwfw/gjj/accounts/{resident}", {}),  # 401
                (f"/gw/{CITY}/zwfw/x", {**caller, "Via": "1.1 xyb-gateway"}),  # 508
            ] * 6
            sent = 0
            previous: dict[Series, float] = {}
            scrapes = 0
            rounds = 0
            # More rounds while one worker has answered everything (a busy machine can leave
            # the other idle): the test proves nothing until both took part.
            more_until = time.monotonic() + 60
            while rounds < ROUNDS or (
                len([n for n in _per_worker_requests(tmp) if n > 0]) < 2
                and time.monotonic() < more_until
            ):
                rounds += 1
                answers = await asyncio.gather(
                    *(client.get(server.url + path, headers=headers) for path, headers in plan)
                )
                assert all(a.status_code >= 400 for a in answers)
                sent += len(answers)
                for _ in range(SCRAPES_PER_ROUND):
                    current, _gauges = await asyncio.to_thread(_scrape, server.url)
                    scrapes += 1
                    for series, value in previous.items():
                        assert series in current, f"{series} vanished at scrape {scrapes}"
                        assert current[series] >= value, (
                            f"{series} went back from {value} to {current[series]}"
                            f" at scrape {scrapes}"
                        )
                    previous = current
            # A head over the limits is answered by the server, before any app or count.
            refused = await asyncio.to_thread(
                _head_too_large, server.port, plan[0][0], caller["Authorization"]
            )
            assert refused.startswith(b"HTTP/1.1 431"), refused
            # Each worker writes its figures every second: soon every call is in every scrape.
            deadline = time.monotonic() + 30
            while True:
                current, gauges = await asyncio.to_thread(_scrape, server.url)
                workers = gauges.get(("xyb_gateway_workers", frozenset()))
                if (_requests(current), workers) == (sent, 2) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert _requests(current) == sent
            assert gauges[("xyb_gateway_workers", frozenset())] == 2
            assert ("xyb_gateway_breaker_state", frozenset({("service", f"{CITY}/zwfw")})) in gauges
            # Two workers took part of the load (else this test would prove nothing); a worker
            # that uvicorn restarted leaves its file, and its calls stay in the totals.
            shares = _per_worker_requests(tmp)
            assert len([share for share in shares if share > 0]) >= 2, shares
            assert sum(shares) == sent
    assert not list(tmp.glob("xyb-metrics-*")), "xyb serve removes its metrics directory"
    # Stopped gracefully, both workers wrote every count: the calls, not the refused head.
    assert sum((await database_calls(fresh_database_url, tmp_path)).values()) == sent
