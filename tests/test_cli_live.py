"""The command line as a user runs it: `xyb onboard` against a live gateway, and `xyb demo`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from app.core.identifiers import make_resident_id
from app.simulators import city_data
from tests.gateway.support import DOCUMENTS
from tests.log_guard import check_output
from tests.servers import free_port, free_port_range, live_gateway

pytestmark = pytest.mark.slow
TOKEN = "cli-live-admin-token-0123456789abcdef0123"


def xyb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_onboard_prints_the_plan_or_the_problems(tmp_path: Path, fresh_database_url: str) -> None:
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_ADMIN_TOKEN": TOKEN}
    with live_gateway(tmp_path, env) as server:
        common = ["--division", "430100", "--slug", "bdc", "--gateway", server.url]
        document = str(DOCUMENTS / "bdc.yaml")
        plan = xyb("onboard", document, *common, "--dry-run", env=env)
        assert plan.returncode == 0, plan.stderr
        assert "plan (dry run, nothing saved)" in plan.stdout
        assert "/gw/430100/bdc/records/{cert_no}" in plan.stdout
        assert "430100-BDC-001" in plan.stdout
        assert (
            httpx.get(
                f"{server.url}/admin/services", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
            == []
        )

        done = xyb("onboard", document, *common, env=env)
        assert done.returncode == 0, done.stderr
        assert "onboarded (id 1, version 1" in done.stdout

        broken = tmp_path / "broken.json"
        broken.write_text(
            json.dumps(
                {
                    "openapi": "3.0.3",
                    "info": {"title": "x", "version": "1"},
                    "paths": {"/a/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
                }
            ),
            encoding="utf-8",
        )
        refused = xyb(
            "onboard",
            str(broken),
            "--division",
            "430100",
            "--slug",
            "broken",
            "--gateway",
            server.url,
            "--upstream",
            "http://127.0.0.1:1",
            env=env,
        )
        assert refused.returncode == 1
        assert "/body/document/paths/~1a~1{id}" in refused.stderr

        wrong_token = xyb("onboard", document, *common, "--token", "nope", env=env)
        assert wrong_token.returncode == 1
        assert "401" in wrong_token.stderr


def test_demo_onboards_every_city_and_serves(tmp_path: Path) -> None:
    port, sim_port = (
        free_port(),
        free_port_range(21),
    )  # control, 14 cities, 2 registers, 3 partners, 12345
    env = {**os.environ, "XYB_DATA_DIR": str(tmp_path / "data")}
    log_path = tmp_path / "demo-stderr.log"
    with log_path.open("wb") as stderr:  # the child keeps its own copy
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
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        lines: list[str] = []
        while not any(line.startswith("admin token:") for line in lines):
            assert time.monotonic() < deadline, lines
            line = proc.stdout.readline()
            assert line, f"demo exited: {lines}"
            lines.append(line.strip())
        while not any(line.startswith("app secret:") for line in lines):
            lines.append(proc.stdout.readline().strip())
        printed = dict(line.split(": ", 1) for line in lines if ": " in line)
        token = printed["admin token"]
        services = httpx.get(
            f"http://127.0.0.1:{port}/admin/services", headers={"Authorization": f"Bearer {token}"}
        ).json()
        # The 14 cities, the e-license registry (430000/elicense, its own connector) and the
        # three alliance partners (<partner>/alliance), and the 12345 system (430000/hotline).
        assert sorted((s["slug"], s["connector"]) for s in services) == [
            *[("alliance", "alliance")] * 3,
            ("elicense", "elicense"),
            ("hotline", "hotline"),
            *[("zwfw", "municipal")] * 14,
        ]
        issued = httpx.post(
            f"http://127.0.0.1:{port}/identity/token",
            data={"grant_type": "client_credentials"},
            auth=(printed["app client"], printed["app secret"]),
        )
        assert issued.status_code == 200, issued.text
        caller = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        resident = next(iter(city_data("433100").fund_accounts))
        answer = httpx.get(
            f"http://127.0.0.1:{port}/gw/433100/zwfw/gjj/accounts/{resident}", headers=caller
        )
        assert answer.status_code == 200
        assert answer.headers["x-xyb-upstream"] == "433100/zwfw"
        # The demo names its own address in its documents, whatever Host a request claims.
        discovery = httpx.get(
            f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server",
            headers={"Host": "evil.example"},
        ).json()
        assert discovery["jwks_uri"] == f"http://127.0.0.1:{port}/.well-known/jwks.json"
        # The register the demo serves next to the cities gives nobody but the gateway a legal
        # representative's ID number (anyone could read them, outside check of issue 9).
        register = f"http://127.0.0.1:{sim_port + 15}"
        seeded = httpx.get(f"{register}/_sim/enterprises").json()[0]
        public = httpx.get(f"{register}/enterprises/{seeded['uscc']}")
        assert public.status_code == 200
        assert public.json()["legal_representative"] == seeded["legal_representative"]
        assert "id_number" not in public.json()["legal_representative"]
        # A tester adds a company they represent (the simulator's control endpoint), and the
        # representative registers it through the gateway, which reads the number with its token.
        id_number = make_resident_id("430102", date(1988, 8, 8), 123)
        company = httpx.post(
            f"{register}/_sim/enterprises",
            json={"legal_representative": "赵六", "legal_representative_id_number": id_number},
        ).json()
        assert id_number not in json.dumps(company)
        representative = {
            "name": "赵六",
            "id_number": id_number,
            "phone": "13912345678",
            "password": "correct horse battery",
        }
        gateway = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{gateway}/identity/persons", json=representative).status_code == 201
        login = httpx.post(
            f"{gateway}/identity/token",
            data={
                "grant_type": "password",
                "username": "13912345678",
                "password": "correct horse battery",
            },
            auth=(printed["app client"], printed["app secret"]),
        )
        registered = httpx.post(
            f"{gateway}/identity/legal-persons",
            json={"uscc": company["uscc"]},
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["name"] == company["name"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    # The demo's log: every line once uvicorn runs is one of the gateway's JSON lines, and
    # nothing personal or secret is in any of them (tests/log_guard.py).
    log = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    started = next(n for n, line in enumerate(log) if line.startswith("{"))
    assert all(line.startswith("{") for line in log[started:]), log
    check_output("\n".join(log), source="the output of xyb demo", secrets=[env["XYB_DATA_KEY"]])


def test_onboard_never_mints_an_admin_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "onboard",
            str(DOCUMENTS / "bdc.yaml"),
            "--division",
            "430100",
            "--slug",
            "bdc",
            "--gateway",
            "http://127.0.0.1:1",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("XYB_")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no admin token" in result.stderr
    assert not (tmp_path / ".xyb").exists()
