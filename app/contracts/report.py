"""Contract verification reports: for people (the console), for CI (JUnit XML) and tools (JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET  # writing XML only; contracts parse with defusedxml

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from app.contracts.replay import InteractionResult, Report

_STYLE = {"pass": "green", "fail": "red", "skip": "yellow"}


def render(
    console: Console,
    report: Report,
    print_table: Callable[[Console, Table], None] | None = None,
) -> None:
    """A table of every interaction, then the details of each failure.

    Names are never cut short: on a narrow terminal the columns fold. ``print_table`` prints the
    table (the CLI's widens it when piped, where rich would assume 80 columns).
    """
    table = Table(title=report.target)
    for column in ("result", "contract", "interaction", "operation", "given"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        table.add_row(
            Text(r.outcome, style=_STYLE[r.outcome]),
            Text(r.contract_name),
            Text(r.interaction),
            Text(r.operation),
            Text(r.given or "-"),
        )
    (print_table or Console.print)(console, table)
    for r in report.results:
        if r.outcome == "skip":
            console.print(
                f"[yellow]skip[/] {escape(f'{r.contract_name} {r.interaction}: {r.reason}')}"
            )
        if r.outcome == "fail":
            _render_failure(console, r)
    console.print(
        f"{report.count('pass')} passed, {report.count('fail')} failed,"
        f" {report.count('skip')} skipped ({len(report.results)} interactions)"
    )


def _render_failure(console: Console, r: InteractionResult) -> None:
    console.print(f"\n[red]FAIL[/] {escape(f'{r.contract} :: {r.interaction}')}")
    console.print(f"  operation: {r.operation}", markup=False, highlight=False)
    console.print(f"  provider state: {r.given or '-'}", markup=False, highlight=False)
    console.print(f"  target: {r.target}", markup=False, highlight=False)
    if r.reason:
        console.print(f"  why: {r.reason}", markup=False, highlight=False)
    if r.curl:
        console.print(f"  reproduce: {r.curl}", markup=False, highlight=False)
    if r.expected or r.actual:
        console.print(
            f"  expected: status {r.expected.get('status')},"
            f" content type {r.expected.get('content_type') or '-'}",
            markup=False,
            highlight=False,
        )
        if r.actual:
            console.print(
                f"  actual:   status {r.actual.get('status')},"
                f" content type {r.actual.get('content_type') or '-'}",
                markup=False,
                highlight=False,
            )
            console.print(f"  body: {r.actual.get('body')}", markup=False, highlight=False)
    for m in r.mismatches:
        console.print(
            f"  mismatch at {m.path}: expected {m.expected}, got {m.actual} ({m.reason})",
            markup=False,
            highlight=False,
        )
    for p in r.problems:
        console.print(f"  check: {p}", markup=False, highlight=False)


def as_json(report: Report) -> dict[str, Any]:
    return {
        "target": report.target,
        "totals": {
            "pass": report.count("pass"),
            "fail": report.count("fail"),
            "skip": report.count("skip"),
        },
        "results": [
            {**asdict(r), "mismatches": [asdict(m) for m in r.mismatches]} for r in report.results
        ],
    }


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(as_json(report), ensure_ascii=False, indent=2), encoding="utf-8")


def write_junit(report: Report, path: Path) -> None:
    """One testsuite per contract, one testcase per interaction."""
    suites = ET.Element("testsuites", name=f"xyb contracts verify ({report.target})")
    by_contract: dict[str, list[InteractionResult]] = {}
    for r in report.results:
        by_contract.setdefault(r.contract, []).append(r)
    for contract, results in by_contract.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=results[0].contract_name,
            file=contract,
            tests=str(len(results)),
            failures=str(sum(r.outcome == "fail" for r in results)),
            skipped=str(sum(r.outcome == "skip" for r in results)),
        )
        for r in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=r.contract_name,
                name=r.interaction,
                time=f"{r.duration_ms / 1000:.3f}",
            )
            if r.outcome == "skip":
                ET.SubElement(case, "skipped", message=r.reason or "")
            elif r.outcome == "fail":
                failure = ET.SubElement(case, "failure", message=r.reason or "failed")
                lines = [f"operation: {r.operation}", f"provider state: {r.given or '-'}"]
                if r.curl:
                    lines.append(f"reproduce: {r.curl}")
                lines += [
                    f"mismatch at {m.path}: expected {m.expected}, got {m.actual}"
                    for m in r.mismatches
                ]
                lines += [f"check: {p}" for p in r.problems]
                failure.text = "\n".join(lines)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
