"""The provider edge's HTTP helpers: what an error message may say about the URL it tried."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth._providers.http import endpoint, transport_error


@pytest.mark.parametrize(("url", "shown"), [
    ("https://cognito-idp.eu-west-1.amazonaws.com/", "https://cognito-idp.eu-west-1.amazonaws.com/"),
    ("http://user:pass@127.0.0.1:9/jwks.json", "http://127.0.0.1:9/jwks.json"),
    ("https://idp.example/token?client_secret=s&code=c#frag", "https://idp.example/token"),
    ("http://[::1]:8080/.well-known/openid-configuration",
     "http://[::1]:8080/.well-known/openid-configuration"),
])
def test_the_endpoint_keeps_where_and_drops_what_may_be_secret(url: str, shown: str) -> None:
    assert endpoint(url) == shown
    assert endpoint(httpx.URL(url)) == shown


@given(secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8))
def test_credentials_in_user_info_or_query_never_reach_the_message(secret: str) -> None:
    url = f"https://{secret}:{secret}@idp.example/jwks?token={secret}#{secret}"
    error = transport_error("JWKS fetch", url, httpx.ConnectError("refused"))
    assert str(error) == "JWKS fetch failed at https://idp.example/jwks: ConnectError"


def test_a_timeout_says_so() -> None:
    error = transport_error("refresh", "https://idp.example/token", httpx.ReadTimeout("slow"))
    assert str(error) == "refresh timed out at https://idp.example/token: ReadTimeout"
