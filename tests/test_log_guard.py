"""Log lines are safe by construction, and the suite's guard catches what is not.

The JSON formatter writes exceptions as class names and frames, never their messages, and masks
what is shaped like an ID number, a mobile number, a JWT or a credential (marking the line). The
guard (tests/log_guard.py) fails a test whose records carry such data or a registered secret,
and checks the output of live servers, whose uvicorn lines go through the same formatter.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.identifiers import make_resident_id
from app.core.logging import (
    JsonFormatter,
    RequestIdFilter,
    describe_exception,
    logging_config,
    mask_sensitive,
)
from tests.log_guard import LogGuard, find, scan, scan_output, secret
from tests.servers import live_gateway

ID_NUMBER = make_resident_id("430104", date(1988, 3, 9), 517)
PHONE = "13907312468"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"


def _line(record: logging.LogRecord) -> dict[str, object]:
    RequestIdFilter().filter(record)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def _record(
    msg: str = "something happened",
    *,
    name: str = "xyb.test",
    exc: BaseException | None = None,
    **extra: object,
) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, info)
    record.__dict__.update(extra)
    return record


def _raised(make: type[BaseException], *args: object) -> BaseException:
    try:
        raise make(*args)
    except BaseException as exc:  # kept, with its traceback, for the formatter
        return exc


# --- the formatter ---------------------------------------------------------------------------


def test_an_exception_is_written_as_classes_and_frames_never_its_message() -> None:
    accounts: dict[str, str] = {}

    def lookup() -> None:
        try:
            accounts[ID_NUMBER]
        except KeyError as exc:
            raise RuntimeError(f"GET http://10.1.2.3/accounts/{ID_NUMBER}?phone={PHONE}") from exc

    line = _line(_record(exc=_raised_from(lookup)))
    written = json.dumps(line, ensure_ascii=False)
    assert line["exc_type"] == "RuntimeError <- KeyError"
    exc = str(line["exc"])
    assert "in lookup\nRuntimeError" in exc
    assert "The above exception was the direct cause of the following exception:" in exc
    assert f'File "{__file__}"' in exc
    for leaked in (ID_NUMBER, PHONE, "10.1.2.3", "accounts"):
        assert leaked not in written
    assert "masked" not in line  # nothing was there to mask: the message was never written


def _raised_from(function: object) -> BaseException:
    assert callable(function)
    try:
        function()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_an_os_error_is_named_with_its_errno_and_groups_with_their_members() -> None:
    refused = ConnectionRefusedError(111, f"refused {PHONE}")
    assert describe_exception(refused) == "ConnectionRefusedError [ECONNREFUSED]"
    group = _raised(ExceptionGroup, "two", [ValueError(ID_NUMBER), KeyError(PHONE)])
    line = _line(_record(exc=group))
    assert "+-- 1 of 2:" in str(line["exc"])
    assert "| ValueError" in str(line["exc"])
    assert ID_NUMBER not in json.dumps(line)
    assert PHONE not in json.dumps(line)
    assert describe_exception(None) is None


def test_asyncio_keeps_only_the_opening_of_its_message() -> None:
    task_repr = f"future: <Task finished name='t' exception=KeyError('{ID_NUMBER}')>"
    record = _record(f"Task exception was never retrieved\n{task_repr}", name="asyncio")
    assert _line(record)["msg"] == "Task exception was never retrieved"


def test_the_last_line_of_defence_masks_and_marks_the_line(log_guard: LogGuard) -> None:
    with log_guard.expect("id_number", "phone", "jwt", "credential") as found:
        record = _record(
            f"resident {ID_NUMBER} called\n{PHONE}",
            extra_token=f"Bearer {JWT}",
            basic="Basic dXNlcjpwYXNzd29yZC1sb25n",
        )
        logging.getLogger("xyb.test").handle(record)  # what the guard sees: the raw record
    assert {f.rule for f in found} == {"id_number", "phone", "jwt", "credential"}
    line = _line(record)
    written = json.dumps(line, ensure_ascii=False)
    for leaked in (ID_NUMBER, PHONE, JWT, "dXNlcjpwYXNzd29yZC1sb25n"):
        assert leaked not in written
    assert line["msg"] == f"resident {ID_NUMBER[:4]}**********{ID_NUMBER[-4:]} called\n139****2468"
    # A JWT after "Bearer" is masked as the credential it is.
    assert line["masked"] == ["id_number", "phone", "credential"]


@pytest.mark.parametrize(
    "harmless",
    [
        "6f1c0e5e-8a55-4a8e-9d7e-130121199912",  # a uuid whose last group is digits
        "a13812345678b",  # inside a hex string
        "duration_ms 1712345678901",  # a 13-digit number
        "Bearer realm",
        "/gw/430100/zwfw/gjj/accounts/{id_number}",
    ],
)
def test_the_masking_leaves_ordinary_values_alone(harmless: str) -> None:
    assert mask_sensitive(harmless) == (harmless, [])


# --- the guard ---------------------------------------------------------------------------------


def test_the_guards_rules() -> None:
    wrong_check = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    cases = {
        f"/accounts/{ID_NUMBER}": ["id_number"],
        f"id={ID_NUMBER.lower()}&": ["id_number"],
        f"/accounts/{wrong_check}": [],  # not a valid ID number: its check character is wrong
        f"{ID_NUMBER}ab": [],  # part of a longer token
        "430104" + "20991301" + "5171": [],  # no such date
        f"tel:{PHONE}.": ["phone"],
        f"+86 {PHONE}": ["phone"],
        f"x{PHONE}": [],
        "12812345678": [],  # not a mobile prefix
        JWT: ["jwt"],
        f"authorization: Bearer {'a1' * 10}": ["credential"],
        "6f1c0e5e8a554a8e9d7e130121199912": [],  # a hex id with digit runs
    }
    for text_, rules in cases.items():
        assert [m.rule for m in find(text_)] == rules, text_
    assert [rule for rule, _ in scan(f"/accounts/{ID_NUMBER.replace('0', '%30')}")] == ["id_number"]


def test_a_registered_secret_is_found_and_never_shown() -> None:
    value = secret("client-secret-of-a-test-4e1f")
    [(rule, shown)] = scan(f"sent X-Api-Key: {value} upstream")
    assert rule == "secret"
    assert value not in shown
    assert "<secret of 28 characters>" in shown
    # Overlapping matches are masked as one: no part of either is shown.
    holding_a_phone = secret(f"key-{PHONE}-tail")
    for _, both in scan(f"k={holding_a_phone}"):
        assert PHONE[-4:] not in both
        assert "tail" not in both


def test_the_guard_reads_messages_args_extras_and_exceptions(log_guard: LogGuard) -> None:
    log = logging.getLogger("xyb.test")
    with log_guard.expect("id_number", "phone", "secret") as found:
        log.info("looked up %s", ID_NUMBER)
        log.info("call", extra={"headers": {"x-api-key": secret("upstream-key-0a9b8c7d")}})
        log.warning("lookup failed", exc_info=_raised(KeyError, ID_NUMBER))  # never written
        log.debug("phone %s", PHONE)  # DEBUG is seen too
    where = sorted((f.rule, f.where) for f in found)
    assert where == [
        ("id_number", "logger xyb.test (INFO), args"),
        ("id_number", "logger xyb.test (INFO), message"),
        ("phone", "logger xyb.test (DEBUG), args"),
        ("phone", "logger xyb.test (DEBUG), message"),
        ("secret", "logger xyb.test (INFO), extra 'headers'"),
    ]


def test_the_guard_fails_the_test_that_leaks(tmp_path: Path, repo_root: Path) -> None:
    """Run as pytest runs it: the leaking test fails, naming logger, rule and a masked excerpt."""
    tests = tmp_path / "test_leaks.py"
    tests.write_text(
        textwrap.dedent(
            f"""
            import logging
            from tests.log_guard import secret

            def test_leaks_an_id_number():
                logging.getLogger("xyb.gateway").warning("cause", extra={{"url": "/a/{ID_NUMBER}"}})

            def test_leaks_a_secret_from_a_third_party_logger():
                logging.getLogger("aiohttp.client").error("key %s", secret("s3cr3t-value-for-test"))

            def test_is_clean():
                logging.getLogger("xyb.gateway").warning("upstream call failed")
            """
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "tests.conftest",
                "-p",
                "no:cacheprovider",
                "-rN",  # no short summary: it repeats the reports (in full when CI is set)
            ),
            *("--rootdir", str(repo_root), "-c", str(repo_root / "pyproject.toml"), str(tests)),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    output = run.stdout + run.stderr
    assert "2 failed, 1 passed" in output, output
    # The guard's own reports (pytest adds the test's captured output, raw, after each).
    reports = re.findall(r"log guard: .*?\nFix the log call", output, flags=re.DOTALL)
    assert len(reports) == 2, output
    by_id, by_secret = reports
    assert "test_leaks_an_id_number logged personal data" in by_id
    assert "logger xyb.gateway (WARNING), extra 'url': rule id_number:" in by_id
    assert f"/a/{ID_NUMBER[:4]}**********{ID_NUMBER[-4:]}" in by_id
    assert "logger aiohttp.client (ERROR), message: rule secret: key <secret of 21" in by_secret
    for report in reports:
        assert ID_NUMBER not in report
        assert "s3cr3t-value-for-test" not in report


# --- live servers: uvicorn's own lines, and the whole output ---------------------------------


def test_uvicorn_and_third_party_loggers_use_the_json_formatter() -> None:
    config = logging_config("info")
    assert config["loggers"]["uvicorn"]["handlers"] == ["stderr"]
    assert config["root"] == {"handlers": ["stderr"], "level": "WARNING"}
    assert config["handlers"]["stderr"]["formatter"] == "json"
    assert "root" not in logging_config("info", root=False)


def test_a_live_output_line_the_formatter_masked_is_a_finding() -> None:
    masked = json.dumps(
        {"logger": "xyb.x", "msg": "id 4301**********4865", "masked": ["id_number"]}
    )
    escaped = json.dumps({"logger": "xyb.x", "msg": f"a\n{PHONE}"})
    findings = scan_output(f"{masked}\n{escaped}\nplain {ID_NUMBER}", source="a test")
    assert [(f.where, f.rule) for f in findings] == [
        ("line 1 of a test (logger xyb.x)", "masked by the formatter (id_number)"),
        ("line 2 of a test (logger xyb.x)", "phone"),
        ("line 3 of a test", "id_number"),
    ]


@pytest.mark.slow
def test_xyb_serve_writes_every_line_through_the_json_formatter(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """Once the server runs, uvicorn's lines (a malformed request included) are our JSON lines,
    and nothing a caller put in a path or query reaches the output (live_gateway checks that)."""
    token = "serve-log-admin-token-0123456789abcdef"
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": token,
        "XYB_LOG_LEVEL": "debug",
    }
    with live_gateway(tmp_path, env) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(f"GET /x?phone={PHONE} HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n".encode())
            assert raw.recv(4096).startswith(b"HTTP/1.1 400")
        for path in (f"/gw/430100/zwfw/accounts/{ID_NUMBER}?phone={PHONE}", f"/{ID_NUMBER}"):
            answer = httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code in (401, 403, 404)
    output = server.log().splitlines()
    started = next(n for n, line in enumerate(output) if line.startswith("{"))
    lines = [json.loads(line) for line in output[started:]]  # every one of them JSON
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    refused = [line for line in lines if line.get("status") == 400]
    invalid = [line for line in lines if line["msg"] == "Invalid HTTP request received."]
    assert refused or invalid, lines


# --- the database never puts bound parameters in its errors ---------------------------------


async def test_database_errors_carry_no_bound_parameters(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(
                text("SELECT * FROM no_such_table WHERE id_number = :id_number"),
                {"id_number": ID_NUMBER},
            )
    message = str(raised.value)
    assert "no_such_table" in message  # the statement, for the operator
    assert ID_NUMBER not in message
    assert "parameters hidden" in message
