"""The workers' metric files (app.services.metrics): what each worker writes, what a scrape adds up.

Several ``InstanceMetrics`` on one directory stand for the workers of one ``xyb serve``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from app.services.metrics import (
    BREAKER,
    REQUESTS,
    WORKERS,
    Figure,
    InstanceMetrics,
    WorkerFiles,
    merged_metrics,
)


class Worker:
    """A worker whose figures the test sets."""

    def __init__(self, directory: Path) -> None:
        self.calls = 0.0
        self.breakers: dict[str, float] = {}
        self.metrics = InstanceMetrics(self.figures, counting=True, directory=str(directory))

    def figures(self) -> list[Figure]:
        labels = (("outcome", "success"), ("service", "430100/zwfw"))
        out: list[Figure] = [(REQUESTS, REQUESTS.name + "_total", labels, self.calls)]
        out += [(BREAKER, BREAKER.name, (("service", k),), v) for k, v in self.breakers.items()]
        out.append((WORKERS, WORKERS.name, (), 1))
        return out


def scrape(worker: Worker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = worker.metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


CALLS = ("xyb_gateway_requests_total", (("outcome", "success"), ("service", "430100/zwfw")))
LIVE = ("xyb_gateway_workers", ())


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


def breaker(service: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("xyb_gateway_breaker_state", (("service", service),))


async def test_a_worker_that_exits_leaves_its_counts_and_takes_its_gauges(
    tmp_path: Path,
) -> None:
    a, b = Worker(tmp_path), Worker(tmp_path)
    await a.metrics.start()
    await b.metrics.start()
    a.calls, b.calls = 5, 3
    a.breakers, b.breakers = {"430100/zwfw": 0}, {"430100/zwfw": 2}
    assert scrape(a)[CALLS] == 5  # b's figures as b last wrote them: none yet
    b.metrics.publish()  # b's tick
    assert (scrape(a)[CALLS], scrape(a)[LIVE]) == (8, 2)
    assert scrape(a)[breaker("430100/zwfw")] == 2  # the most open of the two
    await b.metrics.stop()
    after = scrape(a)
    assert (after[CALLS], after[LIVE], after[breaker("430100/zwfw")]) == (8, 1, 0)
    await a.metrics.stop()


async def test_a_killed_workers_gauges_go_and_its_counts_stay(tmp_path: Path) -> None:
    a = Worker(tmp_path)
    await a.metrics.start()
    dead = WorkerFiles(tmp_path)
    dead.ident = f"{_dead_pid()}-0dead"  # a worker killed without a word: its pid is gone
    labels = (("outcome", "success"), ("service", "430100/zwfw"))
    dead.write([(REQUESTS, REQUESTS.name + "_total", labels, 4), (WORKERS, WORKERS.name, (), 1)])
    a.calls = 1
    seen = scrape(a)
    assert (seen[CALLS], seen[LIVE]) == (5, 1)
    assert _files(tmp_path, f"gauge_*_{dead.ident}.db") == []
    await a.metrics.stop()


async def test_a_retired_service_leaves_the_breaker_gauge(tmp_path: Path) -> None:
    a = Worker(tmp_path)
    await a.metrics.start()
    a.breakers = {"430100/zwfw": 2, "430200/zwfw": 0}
    assert breaker("430100/zwfw") in scrape(a)
    a.breakers = {"430200/zwfw": 0}
    seen = scrape(a)
    assert breaker("430100/zwfw") not in seen
    assert seen[breaker("430200/zwfw")] == 0
    await a.metrics.stop()


async def test_a_second_start_of_the_same_app_does_not_count_twice(tmp_path: Path) -> None:
    a = Worker(tmp_path)
    a.calls = 7
    for _ in range(2):  # a second lifespan writes its cumulative totals to the same files
        await a.metrics.start()
        assert scrape(a)[CALLS] == 7
        await a.metrics.stop()


async def test_without_a_shared_directory_an_app_keeps_a_private_one(tmp_path: Path) -> None:
    a = InstanceMetrics(Worker(tmp_path).figures, counting=True, directory="")
    assert not a.shared
    await a.start()  # one process: nobody else to publish for
    text = a.exposition().decode()
    assert "xyb_gateway_workers 1.0" in text
    private = a._private
    assert private is not None
    assert private.is_dir()
    await a.stop()
    assert not private.exists()


def test_merging_an_empty_directory_names_every_expected_family(tmp_path: Path) -> None:
    names = [m.name for m in merged_metrics(tmp_path, [REQUESTS, BREAKER], now=0.0)]
    assert names == ["xyb_gateway_breaker_state", "xyb_gateway_requests"]


def test_sigterm_after_a_graceful_stop_still_removes_the_shared_directory(tmp_path: Path) -> None:
    """uvicorn stops gracefully on SIGTERM, restores the handler it found and raises SIGTERM
    again: ``xyb serve`` must not leave its metrics directory behind at each stop."""
    script = textwrap.dedent(
        """
        import signal, sys
        from app.services.metrics import shared_directory

        with shared_directory() as directory:
            print(directory, flush=True)
            found = signal.signal(signal.SIGTERM, lambda *_: None)  # uvicorn's serve
            signal.signal(signal.SIGTERM, found)  # its shutdown restores what it found
            signal.raise_signal(signal.SIGTERM)  # and ends the process as the signal would
            print("still running", flush=True)
        """
    )
    ended = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert ended.returncode == -signal.SIGTERM, ended.stderr
    [directory] = ended.stdout.splitlines()
    assert Path(directory).parent == tmp_path
    assert not Path(directory).exists()
