"""Behaviours that reviews of the code found broken once; each test failed before its fix."""

from __future__ import annotations

import socket

import pytest

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator

from .conftest import (
    Browser,
    auth_cookies,
    build_app,
    cookie_name,
    jar_state,
    set_cookies,
    value_of,
    written_value,
)

pytestmark = pytest.mark.anyio


async def test_signed_out_cookies_stay_out_on_a_path_never_seen_before(
    browser: Browser, emulator: CognitoEmulator
) -> None:
    """A settled decision reused for another path must keep its refresh-token digests, or the
    tombstone check cannot see that the session was signed out."""
    await browser.sign_in("alice")
    stale = browser.cookie_header("/")
    assert (await browser.get("/", cookie_header=stale)).json()["user"] == "alice"
    assert (await browser.post("/signout")).status_code == 200

    elsewhere = await browser.get("/orders/7", cookie_header=stale)

    assert elsewhere.json()["user"] is None
    assert any("Max-Age=0" in line for line in set_cookies(elsewhere))
    assert auth_cookies(browser.jar, emulator.client_id) == []


async def test_a_jwks_outage_never_refreshes_and_never_logs_out(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """While the signing keys cannot be fetched, tokens stay unjudged on every request, not only
    on the one that tried the fetch: no refresh (its tokens could not be checked either), no
    deletion, 503 where a user is required."""
    await browser.sign_in("alice")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_jwks = f"http://127.0.0.1:{closed.getsockname()[1]}/jwks.json"
    blind = SessionManager(emulator.config(jwks_url=dead_jwks, timeout=1.0), clock=clock)
    other_server = Browser(build_app(blind))
    other_server.jar = browser.jar
    clock.advance(3600)
    before = jar_state(browser.jar)

    answers = [(await other_server.get("/api/me")).status_code for _ in range(3)]

    assert answers == [503, 503, 503]
    assert emulator.refresh_calls() == 0
    assert jar_state(browser.jar) == before


async def test_a_refresh_reused_from_the_grace_window_keeps_the_leaders_clock_drift(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """clockDrift is issuer time minus our time when the tokens arrived; measured when a late
    request reuses them, it would be off by the wait and Amplify would trust an expired token."""
    await browser.sign_in("alice")
    drift_name = cookie_name(emulator.client_id, "alice", "clockDrift")
    missed_it = browser.cookie_header("/")
    clock.advance(3600)
    first = await browser.get("/api/me")
    leader_drift = int(written_value(set_cookies(first), drift_name))
    clock.advance(50)

    late = await browser.get("/api/me", cookie_header=missed_it)

    assert emulator.refresh_calls() == 1
    assert abs(int(written_value(set_cookies(late), drift_name)) - leader_drift) < 1000
    assert abs(int(value_of(browser.jar, drift_name))) < 1000  # moto shares our clock
