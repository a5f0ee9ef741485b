"""insecure_origin_warning: Secure cookies on an origin where the browser would drop them."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth._core import origin
from ssrauth._core.cookies import CookiePolicy
from ssrauth._core.origin import forwarded_scheme, insecure_origin_warning


@pytest.mark.parametrize("host", [
    "10.0.0.5", "10.0.0.5:8000", "app.example.com", "app.example.com:80", "[2001:db8::1]:8000",
    "2001:db8::1", "0.0.0.0:8000", "localhost.example.com", "127.0.0.1.nip.io",
])
def test_secure_cookies_over_http_on_a_remote_host_are_named(host: str) -> None:
    warning = insecure_origin_warning(CookiePolicy(), "http", host)
    assert warning is not None
    assert f"http://{host}" in warning
    assert "CookiePolicy(secure=False)" in warning


@pytest.mark.parametrize("host", [
    "localhost", "localhost:8000", "LOCALHOST", "app.localhost:5173", "127.0.0.1", "127.0.0.1:8000",
    "127.1.2.3", "[::1]:8000", "::1", "localhost.",
])
def test_loopback_origins_keep_secure_cookies_over_http(host: str) -> None:
    # W3C Secure Contexts: potentially trustworthy, so Chromium and Firefox store them.
    assert insecure_origin_warning(CookiePolicy(), "http", host) is None


@pytest.mark.parametrize("scheme", ["https", "HTTPS", "wss"])
def test_https_origins_never_warn(scheme: str) -> None:
    assert insecure_origin_warning(CookiePolicy(), scheme, "10.0.0.5") is None


def test_a_policy_without_secure_never_warns() -> None:
    assert insecure_origin_warning(CookiePolicy(secure=False), "http", "10.0.0.5") is None


@given(st.sampled_from(["http", "https", "ws"]), st.text(max_size=40))
def test_any_host_text_gets_an_answer_not_an_exception(scheme: str, host: str) -> None:
    answer = insecure_origin_warning(CookiePolicy(), scheme, host)
    assert answer is None or host in answer


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(origin).failed == 0


@given(st.one_of(st.none(), st.text(max_size=60)), st.one_of(st.none(), st.text(max_size=60)))
def test_any_forwarded_headers_give_a_scheme_or_none_never_an_exception(
    x_forwarded_proto: str | None, forwarded: str | None
) -> None:
    scheme = forwarded_scheme(x_forwarded_proto, forwarded)
    assert scheme is None or (scheme == scheme.lower() and "," not in scheme)


@pytest.mark.parametrize(("x_forwarded_proto", "forwarded", "scheme"), [
    ("https", None, "https"),
    ("HTTPS , http", "proto=http", "https"),  # X-Forwarded-Proto first; its first value
    (None, 'for="[2001:db8::1]";proto="https"', "https"),
    (None, "for=10.0.0.1, proto=https", None),  # a later proxy's: not the browser's
    ("", "", None),
])
def test_the_scheme_the_client_facing_proxy_reports(
    x_forwarded_proto: str | None, forwarded: str | None, scheme: str | None
) -> None:
    assert forwarded_scheme(x_forwarded_proto, forwarded) == scheme
