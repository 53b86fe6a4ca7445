"""Every `xyb` command refuses in one sentence and a non-zero exit, never with a traceback.

Two situations a user meets first: running a command in a folder that is not the gateway's (it
used to create an empty `./.xyb/xyb.db` and print 400 lines about `no such table`), and asking
for something that exists already or does not exist (a second grant, a grant of a service that
was never onboarded, onboarding a slug twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalog.support import item
from tests.gateway.support import DOCUMENTS
from tests.servers import live_gateway

pytestmark = pytest.mark.slow
TOKEN = "cli-refusals-admin-token-0123456789abcdef"

# Each command a user may run in the wrong folder; none may create anything there.
IN_AN_EMPTY_FOLDER: list[list[str]] = [
    ["clients", "create", "--name", "x"],
    ["clients", "grant", "cli_0123", "--division", "430100", "--slug", "zwfw"],
    ["keys", "rotate"],
    ["catalog", "import", "items.json"],
    ["catalog", "export", "-o", "out.csv"],
    ["catalog", "generate", "--items", "5", "--load"],
    ["ops", "targets"],
    ["ops", "counts", "--group-by", "service"],
    ["operators", "create", "--username", "wang", "--password", "a long password"],
    ["operators", "list"],
    ["operators", "set-password", "--username", "wang", "--password", "a long password"],
    ["operators", "disable", "--username", "wang"],
    ["operators", "enable", "--username", "wang"],
    ["db", "current"],
    ["db", "downgrade", "-1"],
    ["onboard", "openapi.yaml", "--division", "430100", "--slug", "bdc"],
    ["contracts", "verify", "missing.contract.yaml"],
]


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: no traceback, a non-zero exit, one line on stderr starting with `error`."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both
    assert result.returncode != 0, both
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error "), result.stderr
    return lines[0]


def test_every_command_refuses_in_a_folder_that_is_not_the_gateways(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XYB_")}
    env["COLUMNS"] = "300"
    (tmp_path / "items.json").write_text(json.dumps([item()]), encoding="utf-8")
    (tmp_path / "openapi.yaml").write_bytes((DOCUMENTS / "bdc.yaml").read_bytes())
    for args in IN_AN_EMPTY_FOLDER:
        said = one_sentence(run(args, cwd=tmp_path, env=env))
        if args[0] not in ("onboard", "contracts"):
            assert str(tmp_path / ".xyb" / "xyb.db") in said, (args, said)
        assert not (tmp_path / ".xyb").exists(), args
    # A database that is there but is not the gateway's (no tables) is refused as well.
    env["XYB_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    (tmp_path / "other.db").write_bytes(b"")
    said = one_sentence(run(["ops", "targets"], cwd=tmp_path, env=env))
    assert "has no gateway tables" in said
    assert "xyb db upgrade" in said


def test_duplicates_and_missing_things_are_refused_in_one_sentence(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        **os.environ,
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_DATA_DIR": str(tmp_path / "data"),
        "XYB_ADMIN_TOKEN": TOKEN,
        "COLUMNS": "300",
    }
    with live_gateway(tmp_path, env) as server:
        onboard = [
            "onboard",
            str(DOCUMENTS / "bdc.yaml"),
            "--division",
            "430100",
            "--slug",
            "bdc",
            "--upstream",
            "http://10.1.2.3:8080/api",
            "--gateway",
            server.url,
        ]
        first = run(onboard, cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        assert "onboarded (id 1, version 1" in first.stdout

        # Onboarding the slug again: 409, and the command that publishes a new version.
        again = run(onboard, cwd=tmp_path, env=env)
        assert again.returncode == 1
        assert "Traceback" not in again.stderr
        assert "already onboarded (id 1)" in again.stderr
        assert "to publish it as a new version of service 1:" in again.stderr
        assert (
            f"  xyb onboard {DOCUMENTS / 'bdc.yaml'} --division 430100 --slug bdc --upstream"
            f" http://10.1.2.3:8080/api --gateway {server.url} --replace 1\n"
        ) in again.stderr

        # Text from the server is shown as it is, not read as rich markup.
        bad_slug = run([*onboard[:5], "Bad_Slug", *onboard[6:]], cwd=tmp_path, env=env)
        assert bad_slug.returncode == 1
        assert "[a-z0-9-]" in bad_slug.stderr, bad_slug.stderr

        made = run(["clients", "create", "--name", "an app"], cwd=tmp_path, env=env)
        assert made.returncode == 0, made.stderr
        client_id = made.stdout.split("client_id: ", 1)[1].split()[0]
        grant = ["clients", "grant", client_id, "--division", "430100", "--slug", "bdc"]
        granted = run(grant, cwd=tmp_path, env=env)
        assert granted.returncode == 0, granted.stderr
        assert f"{client_id} may call 430100/bdc (every operation)" in granted.stdout

        said = one_sentence(run(grant, cwd=tmp_path, env=env))  # the API answers 409
        assert "already holds a grant for 430100/bdc" in said
        said = one_sentence(run([*grant[:6], "nope"], cwd=tmp_path, env=env))
        assert "there is no service 430100/nope" in said
        said = one_sentence(
            run(["clients", "grant", "cli_nobody", *grant[3:]], cwd=tmp_path, env=env)
        )
        assert "There is no client 'cli_nobody'" in said
        other = run(["clients", "create", "--name", "another"], cwd=tmp_path, env=env)
        other_id = other.stdout.split("client_id: ", 1)[1].split()[0]
        said = one_sentence(
            run(
                ["clients", "grant", other_id, *grant[3:], "--operation", "noSuchOperation"],
                cwd=tmp_path,
                env=env,
            )
        )
        assert "430100/bdc has no operation 'noSuchOperation'" in said
        partial = run(
            ["clients", "grant", other_id, *grant[3:], "--operation", "listRecords"],
            cwd=tmp_path,
            env=env,
        )
        assert partial.returncode == 0, partial.stderr

        operator = ["operators", "create", "--username", "wang", "--password", "a long password"]
        assert run(operator, cwd=tmp_path, env=env).returncode == 0
        said = one_sentence(run(operator, cwd=tmp_path, env=env))
        assert "exists already" in said
