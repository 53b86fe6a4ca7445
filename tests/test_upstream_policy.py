"""Which upstream URLs may be onboarded."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.config import Settings
from app.services.upstream_policy import UpstreamPolicy, gateway_itself

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


STAR = UpstreamPolicy.parse("*")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9150/\r\nX-Injected: y", "control character"),
        (" http://127.0.0.1:9150", "whitespace"),
        ("http://127.0.0.1:9150 ", "whitespace"),
        ("http://127.0.0.1:9150/a b", "whitespace"),
        ("http://127.0.0.1:9150/\u200b", "invisible format character"),
        ("http://127.0.0.1:9150/a%0d%0aX-Injected:%20y", "control character"),
        ("http://127.0.0.1:9150/a%00", "control character"),
        ("http://127.0.0.1:9150/%zz", "stray '%'"),
        ("http://127.0.0.1:9150/a/../admin", "'.' or '..'"),
        ("http://127.0.0.1:9150/a/%2e%2e;x/admin", "'.' or '..'"),
        ("http://127.0.0.1\\@169.254.169.254/", "backslash"),
        ("http://127.0.0.1/#", "query or fragment"),
        ("http://127.0.0.1/?", "query or fragment"),
        ("http://127.0.0.1:0/", "port"),
        ("http://[fe80::1%25eth0]/", "zone id"),
    ],
)
def test_injection_and_ambiguous_spellings_are_refused(url: str, reason: str) -> None:
    for policy in (DEFAULT, STAR):
        refusal = policy.check(url)
        assert refusal is not None, url
        assert reason in refusal, (url, refusal)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[::a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://169.254.169.254./",
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://0xa9fea9fe/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://169.254.43518/",
        "http://１６９．２５４．１６９．２５４/",
        "http://100.100.100.200/latest/meta-data",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.1/",
        "http://255.255.255.255/",
        "http://[ff02::1]/",
    ],
)
def test_every_spelling_of_a_never_reachable_address_is_refused_even_under_star(url: str) -> None:
    refusal = STAR.check(url)
    assert refusal is not None, url
    assert DEFAULT.check(url) is not None, url


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://127.0.0.1:9001/", "http://127.0.0.1:9001"),
        ("HTTP://ZWFW.Changsha.GOV.cn:8080/api/v1/", "http://zwfw.changsha.gov.cn:8080/api/v1"),
        ("https://city.gov.cn./api", "https://city.gov.cn/api"),
        ("http://127.1:9000/api", "http://127.0.0.1:9000/api"),
        ("http://0x7f.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://[0:0::1]:9000/", "http://[::1]:9000"),
        ("https://长沙.gov.cn/接口", "https://xn--xuw958f.gov.cn/%E6%8E%A5%E5%8F%A3"),
        ("http://10.1.2.3:8080/a%2Fb/c;v=1", "http://10.1.2.3:8080/a%2Fb/c;v=1"),
    ],
)
def test_the_stored_form_is_the_normalised_one(url: str, stored: str) -> None:
    assert DEFAULT.normalise(url) == stored


def test_the_metadata_network_can_be_listed_on_purpose() -> None:
    policy = UpstreamPolicy.parse("*,169.254.0.0/16,::ffff:0:0/96")
    assert policy.normalise("http://169.254.169.254./") == "http://169.254.169.254"
    assert policy.check("http://[::ffff:a9fe:a9fe]/") is None
    assert policy.refused_at_connect(ipaddress.ip_address("169.254.169.254")) is False
    assert STAR.refused_at_connect(ipaddress.ip_address("169.254.169.254")) is True
    assert STAR.refused_at_connect(ipaddress.ip_address("::ffff:169.254.169.254")) is True
    assert STAR.refused_at_connect(ipaddress.ip_address("10.0.0.1")) is False


@pytest.mark.parametrize(
    ("url", "host", "port", "public", "expected"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, None, True),
        ("http://localhost:8000/api", "127.0.0.1", 8000, None, True),
        ("http://[::1]:8000", "0.0.0.0", 8000, None, True),
        ("http://127.0.0.1:8000", "::", 8000, None, True),
        ("http://10.0.0.5:8000", "10.0.0.5", 8000, None, True),
        ("http://127.0.0.1:8001", "127.0.0.1", 8000, None, False),
        ("http://10.0.0.5:8000", "127.0.0.1", 8000, None, False),
        ("https://api.xyb.gov.cn", "127.0.0.1", 8000, "https://api.xyb.gov.cn", True),
        ("https://api.xyb.gov.cn:443/x", "127.0.0.1", 8000, "https://API.xyb.gov.cn/", True),
        ("http://api.xyb.gov.cn", "127.0.0.1", 8000, "https://api.xyb.gov.cn", False),
    ],
)
def test_the_gateways_own_address_is_recognised(
    url: str, host: str, port: int, public: str | None, expected: bool
) -> None:
    assert gateway_itself(url, host, port, public) is expected
