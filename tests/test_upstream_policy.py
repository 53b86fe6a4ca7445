"""Which upstream URLs may be onboarded."""

from __future__ import annotations

import pytest

from app.core.config import Settings
from app.services.upstream_policy import UpstreamPolicy

DEFAULT = UpstreamPolicy.parse(Settings().upstream_allowlist)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9001",
        "http://localhost:8080/api/v1",
        "https://10.2.3.4",
        "http://[::1]:9000/",
        "https://zwfw.changsha.gov.cn/api",
        "http://192.168.1.20:8080",
    ],
)
def test_default_allows_local_private_and_gov_cn(url: str) -> None:
    assert DEFAULT.check(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/", "must be http or https"),
        ("file:///etc/passwd", "must be http or https"),
        ("127.0.0.1:8000", "must be http or https"),
        ("http://user:pw@127.0.0.1/", "must not carry credentials"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0:80/", "unspecified"),
        ("https://evil.example.com/", "not in the allow-list"),
        ("https://gov.cn.evil.com/", "not in the allow-list"),
        ("http://8.8.8.8/", "not in the allow-list"),
        ("http://127.0.0.1/?x=1", "must not have a query"),
        ("http://127.0.0.1:99999/", "malformed"),
        ("http:///nohost", "has no host"),
    ],
)
def test_refusals_say_why(url: str, reason: str) -> None:
    refusal = DEFAULT.check(url)
    assert refusal is not None
    assert reason in refusal


def test_star_allows_anything_but_link_local() -> None:
    policy = UpstreamPolicy.parse("*")
    assert policy.check("https://anything.example/") is None
    assert policy.check("http://169.254.169.254/") is not None
    assert UpstreamPolicy.parse("*,169.254.0.0/16").check("http://169.254.169.254/") is None


def test_exact_hosts() -> None:
    policy = UpstreamPolicy.parse(" city.example , 10.0.0.5 ")
    assert policy.check("https://city.example/x") is None
    assert policy.check("https://www.city.example/x") is not None
    assert policy.check("http://10.0.0.5") is None
    assert policy.check("http://10.0.0.6") is not None
