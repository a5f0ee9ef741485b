"""The OIDC sign-in state cookie (``__Host-``, HttpOnly: state, PKCE verifier, nonce,
return_to): it round-trips, never raises on garbage, and sends the browser back only to a local
path of bounded length."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from ssrauth._core.signin_state import SignInState, safe_return_to, state_cookie


@given(st.text())
def test_return_to_is_always_a_local_path(value: str) -> None:
    target = safe_return_to(value)
    assert target.startswith("/")
    assert not target.startswith(("//", "/\\"))
    assert "\n" not in target
    assert "\r" not in target


@given(st.text(max_size=300))
def test_the_state_cookie_never_raises_on_garbage(value: str) -> None:
    cookie = state_cookie("ssrauth", secure=True)
    assert cookie.pending(f"{cookie.name}={value}", {"state": value}) is None or json.loads(
        base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def test_the_state_cookie_round_trips_and_is_host_only_httponly() -> None:
    cookie = state_cookie("ssrauth", secure=True)
    state = SignInState.new("/orders?x=1")
    line = cookie.write(state)
    assert line.startswith("__Host-ssrauth-signin=")
    assert "HttpOnly" in line
    assert "Secure" in line
    assert "Domain" not in line
    value = line.split(";")[0].split("=", 1)[1]
    assert cookie.pending(f"{cookie.name}={value}", {"state": state.state}) == state
    assert cookie.pending(f"{cookie.name}={value}", {"state": "other"}) is None
    assert state_cookie("ssrauth", secure=False).name == "ssrauth-signin"


def test_a_deeply_nested_state_cookie_is_no_sign_in_not_an_exception() -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=")
    assert SignInState.decode(nested) is None
    cookie = state_cookie("ssrauth", secure=True)
    assert cookie.pending(f"{cookie.name}={nested}", {"state": "x"}) is None


def test_a_return_path_too_long_for_the_state_cookie_becomes_the_home_page() -> None:
    assert SignInState.new("/orders/" + "x" * 2000).return_to.startswith("/orders/")
    assert SignInState.new("/orders/" + "x" * 5000).return_to == "/"
