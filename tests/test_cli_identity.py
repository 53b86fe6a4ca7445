"""`xyb clients create` and `xyb keys rotate` against a running gateway's database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.servers import live_gateway

pytestmark = pytest.mark.slow


def xyb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_cli_made_client_gets_its_roles_and_keys_rotate_live(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path / "data")}
    with live_gateway(tmp_path, env) as server:
        refused = xyb("clients", "create", "--name", "x", "--role", "superuser", env=env)
        assert refused.returncode == 1
        assert "unknown role 'superuser'" in refused.stderr

        made = xyb(
            "clients", "create", "--name", "ops console", "--role", "platform_admin", env=env
        )
        assert made.returncode == 0, made.stderr
        printed = dict(line.split(": ", 1) for line in made.stdout.splitlines() if ": " in line)

        def token() -> str:
            issued = httpx.post(
                f"{server.url}/identity/token",
                data={"grant_type": "client_credentials"},
                auth=(printed["client_id"], printed["client_secret"]),
            )
            assert issued.status_code == 200, issued.text
            value: str = issued.json()["access_token"]
            return value

        deadline = time.monotonic() + 10
        while True:  # the server learns the client from the change feed
            answer = httpx.post(
                f"{server.url}/identity/token",
                data={"grant_type": "client_credentials"},
                auth=(printed["client_id"], printed["client_secret"]),
            )
            if answer.status_code == 200:
                break
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        old = token()
        assert jwt.decode(old, options={"verify_signature": False})["roles"] == ["platform_admin"]
        old_kid = jwt.get_unverified_header(old)["kid"]
        listed = httpx.get(
            f"{server.url}/admin/clients", headers={"Authorization": f"Bearer {old}"}
        )
        assert listed.status_code == 200

        rotated = xyb("keys", "rotate", env=env)
        assert rotated.returncode == 0, rotated.stderr
        deadline = time.monotonic() + 10
        while len(httpx.get(f"{server.url}/.well-known/jwks.json").json()["keys"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        new = token()
        assert jwt.get_unverified_header(new)["kid"] != old_kid
        for bearer in (old, new):  # the old key keeps verifying until its tokens expire
            answer = httpx.get(
                f"{server.url}/admin/clients", headers={"Authorization": f"Bearer {bearer}"}
            )
            assert answer.status_code == 200, answer.text


def test_data_key_prints_a_usable_key() -> None:
    from app.identity.crypto import DataCipher

    result = xyb("keys", "data-key", env={})
    assert result.returncode == 0
    DataCipher.from_text(result.stdout.strip())
