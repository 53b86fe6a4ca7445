"""Settings: defaults for the embedded mode, refusals for production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import Settings, load_or_create_secret
from tests.conftest import DATA_KEY


def test_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.env == "development"
    assert s.data_dir == Path(".xyb")
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / '.xyb' / 'xyb.db'}"
    assert s.redis_url is None
    assert s.timezone == "Asia/Shanghai"
    assert s.tz.key == "Asia/Shanghai"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XYB_DATABASE_URL", "postgresql://u:p@db:5432/xyb")
    monkeypatch.setenv("XYB_BODY_LIMIT_GW", "2MiB")
    monkeypatch.setenv("XYB_REDIS_URL", "")
    s = Settings()
    assert s.resolved_database_url == "postgresql+asyncpg://u:p@db:5432/xyb"
    assert s.body_limit_gw == 2 * 1024 * 1024
    assert s.redis_url is None


def test_body_limit_families() -> None:
    s = Settings(body_limit_default=1, body_limit_admin=2, body_limit_gw=3)
    assert s.body_limit_for("/identity/token") == 1
    assert s.body_limit_for("/admin/services") == 2
    assert s.body_limit_for("/admin") == 2
    assert s.body_limit_for("/administrivia") == 1
    assert s.body_limit_for("/gw/430100/bdc/x") == 3


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "XYB_ADMIN_TOKEN is not set"),
        ("", "XYB_ADMIN_TOKEN is not set"),
        ("changeme", "XYB_ADMIN_TOKEN is a placeholder value"),
        ("short-but-real", "XYB_ADMIN_TOKEN is shorter than 32 characters"),
    ],
)
def test_production_refuses_missing_or_default_secrets(token: str | None, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(env="production", admin_token=token, data_key=DATA_KEY)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "XYB_DATA_KEY is not set"),
        ("changeme", "XYB_DATA_KEY is a placeholder value"),
        ("x" * 40, "XYB_DATA_KEY must be 32 random bytes"),
    ],
)
def test_production_refuses_a_bad_data_key(key: str | None, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(env="production", admin_token="k" * 48, data_key=key)


def test_production_accepts_real_secrets() -> None:
    s = Settings(
        env="production",
        admin_token="k" * 48,
        data_key=DATA_KEY,
        public_url="https://api.example.gov.cn",
    )
    assert s.is_production
    assert s.resolved_admin_token == "k" * 48


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus_Mons")


def test_unsupported_database_driver_is_refused() -> None:
    with pytest.raises(ValidationError, match="postgresql\\+asyncpg"):
        Settings(database_url="mysql://root@localhost/x")


def test_generated_secret_is_stable_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "d", "admin_token")
    assert len(first) >= 32
    assert load_or_create_secret(tmp_path / "d", "admin_token") == first
    mode = stat.S_IMODE((tmp_path / "d" / "admin_token").stat().st_mode)
    assert mode == 0o600
    s = Settings(data_dir=tmp_path / "d")
    assert s.resolved_admin_token == first
