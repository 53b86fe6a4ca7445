"""Settings: one class, read from the environment (prefix ``XYB_``), with safe embedded defaults.

Every setting is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import secrets
import time
from datetime import date
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ByteSize, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people paste from examples; refused as secrets outside development.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "admin",
        "token",
        "test",
        "dev",
        "development",
        "xxx",
        "default",
        "example",
    }
)
MIN_SECRET_LENGTH = 32
# Working days a 12345 ticket has, by category. Source: time limits are local; Xiangtan gives a
# unit 5 working days after it signs for a ticket and 10 for complex ones (STANDARDS.md, 12345
# hotline), so help and complaints get 5, reports and suggestions (which need investigation) 10;
# a consultation is answered on the spot (即问即答) or within the next working day.
HOTLINE_DEADLINES = {"consultation": 1, "help": 5, "complaint": 5, "report": 10, "suggestion": 10}
# The issuer of a development gateway with neither XYB_ISSUER nor XYB_PUBLIC_URL.
DEVELOPMENT_ISSUER = "xyb-gateway"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Production settings that must not be used; the message names every offending setting."""


class Settings(BaseSettings):
    """The gateway's configuration."""

    model_config = SettingsConfigDict(env_prefix="XYB_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".xyb")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite file in the data dir"
    )
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    redis_url: str | None = None
    admin_token: SecretStr | None = None
    # 32 random bytes (base64url): encrypts ID numbers, phones, signing keys and upstream
    # credentials at rest, and keys the look-up hashes. Losing it loses that data.
    data_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The HTTP edge (app/core/http_server.py): a request head (request line and header fields)
    # is bounded in size, field count and time while it arrives; only the listed proxies may say
    # where a request came from; documents name the gateway by its configured address.
    max_header_bytes: ByteSize = ByteSize(32 * 1024)
    max_headers: int = Field(default=100, ge=10, le=10_000)
    header_timeout: float = Field(default=10.0, gt=0, le=3600)
    trusted_proxies: str = ""
    public_url: str | None = None
    # Body limits per route family: documents uploaded to the admin API are large and rare,
    # /gw traffic is frequent and its size is the upstream's business within reason.
    body_limit_default: ByteSize = ByteSize(1024 * 1024)
    body_limit_admin: ByteSize = ByteSize(8 * 1024 * 1024)
    body_limit_gw: ByteSize = ByteSize(10 * 1024 * 1024)
    readiness_timeout: float = Field(default=2.0, gt=0, le=60)
    # Onboarding.
    onboard_max_document: ByteSize = ByteSize(5 * 1024 * 1024)
    onboard_max_depth: int = Field(default=64, ge=8, le=1000)
    upstream_allowlist: str = (
        "localhost,127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,*.gov.cn"
    )
    routes_poll_interval: float = Field(default=1.0, gt=0, le=86400)
    # The upstream client and the defaults of each service's resilience policy.
    upstream_client: Literal["aiohttp", "httpx"] = "aiohttp"
    upstream_buffer: ByteSize = ByteSize(1024 * 1024)
    upstream_max_response: ByteSize = ByteSize(50 * 1024 * 1024)
    upstream_timeout: float = Field(default=10.0, gt=0, le=300)
    # Seconds a request's validation may take in a worker thread (waiting for one included).
    validation_timeout: float = Field(default=10.0, gt=0, le=300)
    upstream_retries: int = Field(default=2, ge=0, le=5)
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown: float = Field(default=30.0, gt=0, le=3600)
    upstream_max_concurrency: int = Field(default=100, ge=1, le=100_000)
    # Identity.
    # The `iss` of tokens and assertions and the audience of partners' ID tokens (RFC 8414:
    # an https URL); unset, the public URL (see resolved_issuer).
    issuer: str | None = Field(default=None, min_length=1, max_length=200)
    access_token_ttl: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=3600, le=365 * 86400)
    default_client_rate: float = Field(default=50.0, gt=0, le=100_000)
    default_client_burst: int = Field(default=100, ge=1, le=1_000_000)
    identity_poll_interval: float = Field(default=1.0, gt=0, le=86400)
    # The market-supervision enterprise register consulted when a legal person registers
    # (base URL; unset: registering a legal person answers 503 saying to set it).
    enterprise_register_url: str | None = None
    # The bearer token the register issued to the gateway: it gives the legal representative's ID
    # number only to its authenticated consumer (unset: no credential is sent).
    enterprise_register_token: SecretStr | None = None
    # Access counting and the operators' view.
    counting: bool = True
    count_flush_interval: float = Field(default=1.0, gt=0, le=60)
    target_items_online: int = Field(default=10_000, ge=0)
    target_one_network: int = Field(default=5_000, ge=0)
    target_license_types: int = Field(default=200, ge=0)
    target_users: int = Field(default=30_000_000, ge=0)
    # The day the targets are due (default: 31 December of the current year, local time).
    target_year_end: date | None = None
    # Seconds between the daily target snapshots' refreshes (0: only when the targets are read).
    target_snapshot_interval: float = Field(default=900.0, ge=0, le=86400)
    metrics_token: SecretStr | None = None
    # The audit log (issue 11): hash-chained records of calls and admin actions, written in
    # batches off the request path, the chain head signed every N records or M seconds.
    audit: bool = True
    audit_flush_interval: float = Field(default=1.0, gt=0, le=60)
    audit_batch_max: int = Field(default=2000, ge=1, le=100_000)
    audit_max_pending: int = Field(default=100_000, ge=1, le=10_000_000)
    audit_checkpoint_records: int = Field(default=1000, ge=1, le=1_000_000)
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0, le=86400)
    audit_retention_days: int = Field(default=180, ge=1, le=36500)
    operator_session_ttl: int = Field(default=8 * 3600, ge=300, le=7 * 86400)
    # The 12345 hotline (issue 14). The system's status callbacks are signed with this shared
    # secret (unset: one generated into the data directory, as `xyb demo` shares it with its
    # simulator); a callback's timestamp may be this many seconds off.
    hotline_callback_secret: SecretStr | None = None
    hotline_callback_tolerance: int = Field(default=300, ge=10, le=3600)
    # Working days to resolve a ticket, per category (Asia/Shanghai, the official calendar); the
    # defaults and their source are in the README. JSON: {"complaint": 5, ...}; unnamed ones keep
    # their default.
    hotline_deadlines: dict[str, int] = Field(default_factory=dict, validate_default=True)
    # Working days a follow-up of a bad rating has (local limits are 5-15), and how many working
    # days before its deadline an open ticket or follow-up gets a yellow card.
    hotline_follow_up_days: int = Field(default=10, ge=1, le=60)
    hotline_yellow_days: int = Field(default=1, ge=0, le=30)
    # Names this deployment in the Via header it adds upstream; a request that already carries it
    # has looped back through the gateway (a service whose upstream is the gateway itself).
    gateway_id: str = Field(default="xyb-gateway", pattern=r"^[A-Za-z0-9._-]{1,64}$")

    @field_validator("enterprise_register_url", mode="before")
    @classmethod
    def _register_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError("the enterprise register's base URL starts with http:// or https://")
        if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("the enterprise register's base URL has spaces or control characters")
        return value.rstrip("/")

    @field_validator("enterprise_register_token", mode="before")
    @classmethod
    def _register_token(cls, value: object) -> object:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        # It goes into an Authorization header: visible ASCII only (never the value in a message).
        if not isinstance(raw, str) or not raw.isascii() or not raw.isprintable() or " " in raw:
            raise ValueError("the enterprise register's token is visible ASCII without spaces")
        return value

    @field_validator("hotline_deadlines")
    @classmethod
    def _hotline_deadlines(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(HOTLINE_DEADLINES))
        if unknown:
            raise ValueError(
                f"unknown ticket categories {unknown}; the categories are"
                f" {', '.join(HOTLINE_DEADLINES)}"
            )
        if any(not 1 <= days <= 120 for days in value.values()):
            raise ValueError("a deadline is 1 to 120 working days")
        return {**HOTLINE_DEADLINES, **value}

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("database_url", "redis_url", "public_url", "issuer", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("max_header_bytes")
    @classmethod
    def _sane_header_bytes(cls, value: ByteSize) -> ByteSize:
        if not 1024 <= value <= 16 * 1024 * 1024:
            raise ValueError("must be between 1KiB and 16MiB")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        return ",".join(
            str(net.network_address) if net.num_addresses == 1 else str(net)
            for net in parse_networks(value)
        )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else normalise_public_url(value)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is not None and any(ch.isspace() or ord(ch) < 0x20 for ch in value):
            raise ValueError("must not contain whitespace or control characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(("postgresql://", "postgres://")):
            # People paste libpq URLs; the gateway is async-only.
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError(
                "use postgresql+asyncpg://... or sqlite+aiosqlite:///path (other drivers are not"
                " supported)"
            )
        return value

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            problems = self.insecure_settings()
            if self.public_url is None:
                # Behind a load balancer only configuration knows the address callers use; the
                # Host header is the caller's to choose and is never reflected.
                problems.append(
                    "XYB_PUBLIC_URL is not set (the address callers reach the gateway at, e.g."
                    " https://api.example.gov.cn)"
                )
            elif not is_https_issuer(self.resolved_issuer):
                problems.append(
                    f"the issuer {self.resolved_issuer!r} is not an https:// URL without query or"
                    " fragment (RFC 8414): set XYB_ISSUER, or an https XYB_PUBLIC_URL, which it"
                    " defaults to"
                )
            if problems:
                raise InsecureSettingsError(
                    "refusing to start in production: " + "; ".join(problems)
                )
        return self

    def insecure_settings(self) -> list[str]:
        """Sentences naming each secret that is missing or a placeholder."""
        problems: list[str] = []
        for name, value in (("XYB_ADMIN_TOKEN", self.admin_token), ("XYB_DATA_KEY", self.data_key)):
            if value is None or not value.get_secret_value():
                problems.append(f"{name} is not set")
                continue
            raw = value.get_secret_value()
            if raw.strip().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"{name} is a placeholder value")
            elif len(raw) < MIN_SECRET_LENGTH:
                problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters")
            elif name == "XYB_DATA_KEY" and not _is_32_bytes(raw):
                problems.append(
                    "XYB_DATA_KEY must be 32 random bytes, base64url-encoded"
                    " (`xyb keys data-key` prints one)"
                )
        return problems

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @cached_property
    def tz(self) -> ZoneInfo:
        """The time zone of every calendar thing (buckets, year end, deadlines)."""
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'xyb.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        """The gateway's base URL for documents and links: XYB_PUBLIC_URL, else the bind address."""
        if self.public_url is not None:
            return self.public_url
        host = self.host
        if host in ("", "0.0.0.0", "::"):  # a wildcard bind is reached on loopback
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def resolved_issuer(self) -> str:
        """The gateway's issuer identifier: XYB_ISSUER, else XYB_PUBLIC_URL.

        Development without either keeps the fixed ``xyb-gateway``, not the bind address: two
        local instances on different ports then accept each other's tokens.
        """
        if self.issuer is not None:
            return self.issuer
        return self.public_url if self.public_url is not None else DEVELOPMENT_ISSUER

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The addresses and networks whose X-Forwarded-For / -Proto are believed."""
        return [item for item in self.trusted_proxies.split(",") if item]

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def body_limit_for(self, path: str) -> int:
        """The body limit of the route family ``path`` belongs to."""
        if path.startswith("/gw/"):
            return int(self.body_limit_gw)
        if path.startswith("/admin/") or path == "/admin":
            return int(self.body_limit_admin)
        return int(self.body_limit_default)

    @cached_property
    def resolved_data_key(self) -> str:
        """The data key; in development one is generated into the data dir on first use."""
        if self.data_key is not None and self.data_key.get_secret_value():
            return self.data_key.get_secret_value()
        import base64
        import os

        existing = read_secret(self.data_dir, "data_key")
        if existing is not None:
            return existing
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fresh = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")
        path = self.data_dir / "data_key"
        try:
            with path.open("x", encoding="ascii") as fh:
                path.chmod(0o600)
                fh.write(fresh)
        except FileExistsError:
            time.sleep(0.05)  # another worker is writing it
        stored = read_secret(self.data_dir, "data_key")
        if stored is None:
            raise RuntimeError(f"the data key file {path} is empty")
        return stored

    @cached_property
    def resolved_admin_token(self) -> str:
        """The admin token; in development one is generated into the data dir on first use."""
        if self.admin_token is not None and self.admin_token.get_secret_value():
            return self.admin_token.get_secret_value()
        return load_or_create_secret(self.data_dir, "admin_token")


def parse_networks(value: str) -> list[IPv4Network | IPv6Network]:
    """Comma-separated IP addresses and CIDR networks (``10.0.0.5, 10.1.0.0/16, ::1``)."""
    networks: list[IPv4Network | IPv6Network] = []
    for item in value.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an IP address or network (host names and * are not accepted)"
            ) from None
    return networks


def is_https_issuer(value: str) -> bool:
    """An issuer RFC 8414 accepts: an https URL with a host and no query or fragment."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and parts.username is None
        and not parts.query
        and not parts.fragment
        and not value.endswith(("?", "#"))
    )


def normalise_public_url(value: str) -> str:
    """``scheme://host[:port][/prefix]`` without a trailing slash; refuses anything else."""
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError("must not have a query or a fragment")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _is_32_bytes(text: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == 32
    except (binascii.Error, ValueError):
        return False


def load_or_create_secret(data_dir: Path, name: str) -> str:
    """Read a generated secret from the data dir, creating it (mode 0600) if absent.

    Several workers may start together: the file is created exclusively, and a loser reads the
    winner's value.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    value = secrets.token_urlsafe(32)
    try:
        with path.open("x", encoding="ascii") as fh:
            path.chmod(0o600)
            fh.write(value)
        return value
    except FileExistsError:
        for _ in range(50):
            stored = path.read_text(encoding="ascii").strip()
            if stored:
                return stored
            # The winner created the file but has not written it yet.
            time.sleep(0.01)
        raise RuntimeError(f"secret file {path} exists but is empty") from None


def read_secret(data_dir: Path, name: str) -> str | None:
    """A secret generated earlier into the data dir, without creating one."""
    path = data_dir / name
    try:
        value = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return value or None


def get_settings() -> Settings:
    """Settings from the environment (used by the CLI and by uvicorn's ``app.main:app``)."""
    return Settings()
