"""A freshly started server (no signing keys fetched yet) meets a burst of signed-in requests.

Every request of the burst must be served as the user, after one JWKS fetch: a request that
judged its tokens against the still-empty key set would show a signed-in user a signed-out page
right after every deploy.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar

BURST = 20


def signed_in_header(emulator: CognitoEmulator, clock: ManualClock) -> str:
    """Cookies from a sign-in on another (already warm) server of the same app."""
    auth = SessionManager(emulator.config(), clock=clock).load("", "/", HOST)
    auth.sign_in("alice", PASSWORD)
    jar = BrowserJar(HOST)
    jar.apply(auth.set_cookie_headers())
    return jar.cookie_header("/")


def test_a_cold_async_server_serves_a_whole_burst_as_the_user_after_one_key_fetch(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    header = signed_in_header(emulator, clock)
    cold = SessionManager(emulator.config(), clock=clock)

    async def burst() -> list[str | None]:
        loads = [cold.aload(header, f"/page/{i}", HOST) for i in range(BURST)]
        return [auth.session.username if auth.session else None
                for auth in await asyncio.gather(*loads)]

    assert asyncio.run(burst()) == ["alice"] * BURST
    assert cold.events.count(Event.JWKS_FETCHED) == 1


@pytest.mark.parametrize("workers", [8])
def test_a_cold_threaded_server_serves_a_whole_burst_as_the_user(
    emulator: CognitoEmulator, clock: ManualClock, workers: int
) -> None:
    header = signed_in_header(emulator, clock)
    cold = SessionManager(emulator.config(), clock=clock)

    def one(i: int) -> str | None:
        session = cold.load(header, f"/page/{i}", HOST).session
        return session.username if session else None

    with ThreadPoolExecutor(workers) as pool:
        assert list(pool.map(one, range(BURST))) == ["alice"] * BURST
    assert cold.events.count(Event.JWKS_FETCHED) >= 1
