"""The README's shell examples, run as written against a live `xyb demo` (what `make run` starts).

A new user's path: `make run` in the checkout, then, in a second terminal in the same folder, the
README's ```sh blocks. This test does the same in a folder of its own: it starts `xyb demo` on
free ports there, then runs every example of the README with bash, in README order, one bash
session, through a `curl` that also reports each answer's status. Every command must exit 0 and
every HTTP answer must be 2xx or 3xx; then the lines the demo itself printed are run the same way.

The only changes made to a command are the ones a reader makes:
- the demo's port for 8000 (and its simulators' ports for 9000-9020);
- the values `make run` printed for a placeholder `NAME=...` (see PLACEHOLDERS);
- `xyb` is this checkout's, `python3` this interpreter, and the browser `python3 -m webbrowser`
  opens is the reporting curl (so the page it would show is fetched and checked);
- the files a command presumes (FILES) exist, and the folder has `contracts/` (a link).

What cannot run here is skipped, each with its reason (SKIPPED); the test fails if a skip names a
command the README no longer has, so the list stays true.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway.support import DOCUMENTS
from tests.servers import free_port, free_port_range

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Commands (by their beginning) that cannot run in a test, and why. A block whose first command
# is listed is skipped whole.
SKIPPED: dict[str, str] = {
    "make run": "what the test does itself: it starts `xyb demo` (make run creates .venv first)",
    "make test": "the test suite itself",
    "xyb contracts verify contracts/municipal/changsha.contract.yaml --target http://10.1": (
        "a live provider at an example address"
    ),
    "export XYB_DATABASE_URL=postgresql": (
        "production on PostgreSQL: a server, an account and production secrets"
        " (the suite's PostgreSQL run covers the backend)"
    ),
    "XYB_TEST_DATABASE_URL=": "runs the test suite on PostgreSQL",
    "docker build": "needs Docker (the Dockerfile is checked by its own tests)",
}
# The answers a reader types where the README writes a placeholder.
PLACEHOLDERS = {
    "CLIENT": "app client",
    "SECRET": "app secret",
    "RESIDENT_ID": "resident id number",
    "RESIDENT_PASSWORD": "resident password",
    "VERIFIER": "verifier client",
    "VERIFIER_SECRET": "verifier secret",
    "PARTNER": "partner client",
    "PARTNER_SECRET": "partner secret",
}
# What an example reads that a reader brings: their service's OpenAPI document (two versions).
FILES = {"openapi.yaml": DOCUMENTS / "bdc.yaml", "openapi-v2.yaml": DOCUMENTS / "bdc.yaml"}
# What a reader types when a command asks (the operator's password, twice).
PROMPTS = {"xyb operators create": "a long password\na long password\n"}
STATUS = "XYB-HTTP"
MARK = "XYB-COMMAND"


@dataclass(frozen=True)
class Example:
    """One command of the README (continuation lines joined), in its block."""

    block: int
    line: int
    text: str


def readme_examples() -> tuple[list[Example], list[tuple[Example, str]]]:
    """The README's commands to run, and those skipped with their reasons."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: list[list[Example]] = []
    current: list[Example] | None = None
    pending = ""
    start = 0
    for number, line in enumerate(lines, start=1):
        if current is None:
            if line.strip() == "```sh":
                current = []
            continue
        if line.strip() == "```":
            blocks.append(current)
            current = None
            continue
        if not pending:
            start = number
        pending += line + "\n"
        if line.rstrip().endswith("\\"):
            continue
        text = pending.rstrip("\n")
        pending = ""
        if text.strip() and not text.lstrip().startswith("#"):
            current.append(Example(len(blocks), start, text))
    run: list[Example] = []
    skipped: list[tuple[Example, str]] = []
    for block in blocks:
        first = next((why for key, why in SKIPPED.items() if block[0].text.startswith(key)), None)
        for example in block:
            why = first or next(
                (why for key, why in SKIPPED.items() if example.text.startswith(key)), None
            )
            if why is None:
                run.append(example)
            else:
                skipped.append((example, why))
    return run, skipped


def test_every_skip_names_a_command_of_the_readme() -> None:
    run, skipped = readme_examples()
    assert run, "the README has no examples to run"
    for key in SKIPPED:
        assert any(example.text.startswith(key) for example, _ in skipped), key


@dataclass
class Demo:
    """A running `xyb demo`: its ports and what it printed."""

    port: int
    simulator_port: int
    printed: dict[str, str]
    examples: list[str]
    process: subprocess.Popen[str]


def start_demo(folder: Path, env: dict[str, str]) -> Demo:
    port, sim_port = free_port(), free_port_range(21)
    with (folder.parent / "demo-stderr.log").open("wb") as stderr:  # the child keeps a copy
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "demo",
                "--port",
                str(port),
                "--simulator-port",
                str(sim_port),
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    lines: list[str] = []
    # The demo prints its examples in one go, ending with the line that heals Changsha.
    while not (lines and "/faults" in lines[-1] and "DELETE" in lines[-1]):
        assert time.monotonic() < deadline, lines
        line = proc.stdout.readline()
        assert line, f"the demo exited: {lines}"
        lines.append(line.rstrip("\n"))
    printed = dict(line.split(": ", 1) for line in lines if ": " in line)
    return Demo(port, sim_port, printed, lines, proc)


def tools(folder: Path, real_curl: str) -> Path:
    """A bin folder: `xyb` of this checkout, `python3` this interpreter, a reporting `curl`."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    scripts = {
        "xyb": f'exec {shlex.quote(sys.executable)} -m app.cli "$@"',
        "python3": f'exec {shlex.quote(sys.executable)} "$@"',
        # The status of every answer goes to stderr, after the command's own output.
        "curl": f"exec {shlex.quote(real_curl)} -w '%{{stderr}}{STATUS} %{{http_code}}"
        f' %{{url_effective}}\\n\' "$@"',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(0o755)
    return bin_dir


def localised(text: str, demo: Demo) -> str:
    """A command with the demo's ports and the printed values put in, as a reader would."""
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{demo.port}")
    text = re.sub(
        r"127\.0\.0\.1:(90(?:0\d|1\d|20))\b",
        lambda m: f"127.0.0.1:{demo.simulator_port + int(m.group(1)) - 9000}",
        text,
    )
    for name, printed in PLACEHOLDERS.items():
        text = re.sub(rf"\b{name}=\.\.\.", f"{name}={shlex.quote(demo.printed[printed])}", text)
    return text


def script_of(commands: list[str], folder: Path) -> str:
    """One bash session: each command announced on stderr, stdin only where one prompts."""
    parts = ["set -e", f"cd {shlex.quote(str(folder))}"]
    for number, command in enumerate(commands):
        stdin = "/dev/null"
        for key, answer in PROMPTS.items():
            if command.startswith(key):
                answer_file = folder / f"answer-{number}.txt"
                answer_file.write_text(answer, encoding="utf-8")
                stdin = str(answer_file)
        parts.append(f"echo '{MARK} {number}' >&2")
        parts.append(f"{{\n{command}\n}} < {shlex.quote(stdin)}")
    parts.append(f"echo '{MARK} done' >&2")
    return "\n".join(parts) + "\n"


@dataclass
class Outcome:
    """What a command did: its HTTP statuses and (for the one that failed) that it failed."""

    command: str
    statuses: list[tuple[int, str]]


def run_session(
    commands: list[str], folder: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[Outcome]]:
    result = subprocess.run(
        ["bash", "-c", script_of(commands, folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        start_new_session=True,  # no controlling terminal: a prompt reads its stdin
    )
    outcomes: list[Outcome] = []
    for line in result.stderr.splitlines():
        if line.startswith(MARK):
            which = line.split()[1]
            if which != "done":
                outcomes.append(Outcome(commands[int(which)], []))
        elif line.startswith(STATUS) and outcomes:
            _, code, url = line.split(" ", 2)
            outcomes[-1].statuses.append((int(code), url))
    return result, outcomes


def check(result: subprocess.CompletedProcess[str], outcomes: list[Outcome], what: str) -> None:
    failed = outcomes[-1].command if outcomes else "(before the first command)"
    report = (
        f"{what}: this command failed (exit {result.returncode}):\n{failed}\n"
        f"--- stdout (end) ---\n{result.stdout[-3000:]}\n--- stderr (end) ---\n"
        f"{result.stderr[-3000:]}"
    )
    assert result.returncode == 0, report
    assert f"{MARK} done" in result.stderr, report
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


@pytest.mark.skipif(sys.platform == "win32", reason="the README's examples are POSIX shell")
def test_the_readme_examples_work_as_written_against_the_demo(tmp_path: Path) -> None:
    real_curl = shutil.which("curl")
    if real_curl is None or shutil.which("bash") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl and bash are needed (.ci/run installs curl)")
        pytest.skip("curl or bash is not installed")
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "contracts").symlink_to(ROOT / "contracts")
    for name, source in FILES.items():
        shutil.copyfile(source, folder / name)
    bin_dir = tools(folder, real_curl)
    # A reader's environment: nothing of the suite's XYB_ settings; the data dir is ./.xyb.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XYB_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    demo = start_demo(folder, env)
    try:
        base = f"http://127.0.0.1:{demo.port}"
        # What a reader's shell has that a test's has not: xyb onboard's default gateway is
        # http://XYB_HOST:XYB_PORT (8000 for a reader), and a browser for python3 -m webbrowser.
        env |= {
            "XYB_PORT": str(demo.port),
            "BROWSER": f"{bin_dir / 'curl'} -s -L -o /dev/null %s",
        }
        examples, _ = readme_examples()
        commands = [localised(example.text, demo) for example in examples]
        result, outcomes = run_session(commands, folder, env)
        check(result, outcomes, "README.md")
        assert [o.command for o in outcomes] == commands
        if os.environ.get("README_EXAMPLES_DEBUG"):
            for o in outcomes:
                print(o.command[:100].replace("\n", " "), o.statuses)
        for outcome in outcomes:
            bad = [(code, url) for code, url in outcome.statuses if not 200 <= code < 400]
            assert not bad, f"{outcome.command}\nanswered {bad}"
        answered = [url for outcome in outcomes for _, url in outcome.statuses]
        # The dashboard, signed out, redirects to its sign-in page (curl reports where it ended).
        for page in ("/docs", "/ops/login", "/catalog/items?q=", "/gw/430100/zwfw/gjj/"):
            assert any(page in url for url in answered), (page, answered)
        # What the examples did, seen from the API.
        admin = {"Authorization": f"Bearer {demo.printed['admin token']}"}
        services = httpx.get(f"{base}/admin/services", headers=admin).json()
        bdc = next(s for s in services if s["slug"] == "bdc")
        assert (bdc["id"], bdc["version"]) == (20, 2)  # onboarded, then --replace 20
        assert (folder / "catalog.csv").read_text(encoding="utf-8").startswith("code,name,")

        # The lines the demo printed are examples too (one is meant to be refused: 422).
        printed = [line for line in demo.examples if re.match(r"curl |echo |[A-Z_]+=\$\(", line)]
        result, outcomes = run_session(printed, folder, env)
        check(result, outcomes, "the demo's printed examples")
        for outcome in outcomes:
            for code, url in outcome.statuses:
                expected = 422 if "from=2023-13" in outcome.command else None
                assert 200 <= code < 400 or code == expected, (outcome.command, code, url)

        # Raw UTF-8 in a URL (what the README's search example used to send) is refused with
        # a problem that says how to send it.
        raw = subprocess.run(
            [real_curl, "-s", "-i", f"{base}/catalog/items?q=社保"],
            capture_output=True,
            timeout=30,
        )
        answer = raw.stdout.decode("utf-8", "replace")
        assert answer.startswith("HTTP/1.1 400"), answer
        assert "application/problem+json" in answer
        assert "percent-encode" in answer
        assert "--data-urlencode" in answer
    finally:
        demo.process.send_signal(signal.SIGINT)
        try:
            demo.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.process.kill()
            demo.process.wait()
