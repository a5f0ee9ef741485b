"""Many requests, one refresh: single flight across asyncio tasks and threads, the grace window
for a tab that missed the Set-Cookie, a shared rejection, and sign-out racing a refresh."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST
from tests.integration.rig.apps import Arrivals, Pause, build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import (
    auth_cookies,
    cookie_name,
    set_cookies,
    value_of,
    writes_auth_cookie,
    written_value,
)
from tests.integration.rig.gates import RefreshGate, gated_manager
from tests.integration.rig.waiting import wait_until

pytestmark = pytest.mark.anyio


async def test_fifty_tasks_and_eight_threads_make_one_refresh(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    gate = RefreshGate()
    manager = gated_manager(emulator, clock, gate)
    arrivals = Arrivals()
    browser = Browser(arrivals.wrap(build_app(manager)))
    await browser.sign_in("alice")
    access_name = cookie_name(emulator.client_id, "alice", "accessToken")
    old_access = value_of(browser.jar, access_name)
    clock.advance(3600)
    # Every request leaves with the same expired cookies, before any answer comes back.
    header = browser.cookie_header("/api/me")
    arrivals.count = 0

    def threaded_request() -> tuple[str | None, list[str]]:
        arrivals.add()
        auth = manager.load(header, "/api/me", HOST)
        return (auth.session.username if auth.session else None), auth.set_cookie_headers()

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=8) as pool:
        threads = [loop.run_in_executor(pool, threaded_request) for _ in range(8)]
        tasks = [asyncio.create_task(browser.get("/api/me", cookie_header=header))
                 for _ in range(50)]
        # Hold the one provider call until every request is in: they must share it, not race.
        await wait_until(lambda: arrivals.count == 58 and gate.arrived.is_set(),
                         "58 requests and a refresh in flight")
        gate.release()
        responses = await asyncio.gather(*tasks)
        threaded = await asyncio.gather(*threads)

    assert not gate.timed_out
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.json()["username"] for r in responses} == {"alice"}
    assert {username for username, _ in threaded} == {"alice"}
    assert emulator.refresh_calls() == 1
    events = manager.events
    assert events.count(Event.REFRESH_STARTED) == 1
    assert events.count(Event.REFRESH_SUCCEEDED) == 1
    assert events.count(Event.REFRESH_COALESCED) + events.count(Event.REFRESH_REUSED) == 57
    # Every asyncio request joined the flight before it was released (nothing in their path
    # yields before the join), so at least 49 of them waited on the leader rather than racing it.
    assert events.count(Event.REFRESH_COALESCED) >= 49
    written = {written_value(set_cookies(r), access_name) for r in responses}
    written |= {written_value(lines, access_name) for _, lines in threaded}
    assert len(written) == 1
    assert written == {value_of(browser.jar, access_name)}
    assert written != {old_access}


async def test_late_tab_reuses_the_refresh_within_the_grace_window(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    await browser.sign_in("alice")
    access_name = cookie_name(emulator.client_id, "alice", "accessToken")
    clock.advance(3600)
    missed_it = browser.cookie_header("/")  # a tab whose request left before the refresh landed

    first = await browser.get("/api/me")
    assert first.status_code == 200
    refreshed = value_of(browser.jar, access_name)
    assert emulator.refresh_calls() == 1

    clock.advance(30)
    late = await browser.get("/api/me", cookie_header=missed_it)
    assert late.status_code == 200
    assert written_value(set_cookies(late), access_name) == refreshed
    assert value_of(browser.jar, access_name) == refreshed
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.REFRESH_REUSED) == 1

    # Past the 60 s window the stored result is gone: the old refresh token goes to the provider
    # again (moto does not rotate, so it is still good) and brings fresh tokens.
    clock.advance(31)
    later = await browser.get("/api/me", cookie_header=missed_it)
    assert later.status_code == 200
    assert emulator.refresh_calls() == 2
    assert written_value(set_cookies(later), access_name) != refreshed
    assert value_of(browser.jar, access_name) == written_value(set_cookies(later), access_name)


async def test_revoked_refresh_token_clears_every_variant(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    access = value_of(browser.jar, cookie_name(cid, "alice", "accessToken"))
    # Variants a browser may hold besides the canonical ones: the seed bug's copies under the
    # page directory, and Domain copies from a deployment that set Domain=.
    for cookie in list(auth_cookies(browser.jar, cid)):
        browser.jar.seed(cookie.name, cookie.value, path="/orders")
        browser.jar.seed(cookie.name, cookie.value, domain=HOST)
    assert len(auth_cookies(browser.jar, cid)) == 18
    emulator.call("GlobalSignOut", {"AccessToken": access})
    clock.advance(3600)

    page = await browser.get("/orders/42")

    assert page.status_code == 200
    assert page.json()["user"] is None
    assert auth_cookies(browser.jar, cid) == []
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.REFRESH_REJECTED) == 1
    assert (await browser.get("/api/me")).status_code == 401


async def test_concurrent_requests_share_one_rejection(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    cid = emulator.client_id
    await browser.sign_in("alice")
    access = value_of(browser.jar, cookie_name(cid, "alice", "accessToken"))
    emulator.call("GlobalSignOut", {"AccessToken": access})
    clock.advance(3600)
    header = browser.cookie_header("/")

    responses = await asyncio.gather(
        *(browser.get("/api/me", cookie_header=header) for _ in range(10)))

    assert [r.status_code for r in responses] == [401] * 10
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.REFRESH_STARTED) == 1
    assert manager.events.count(Event.REFRESH_REJECTED) == 1  # the provider's one "no"
    assert not any(writes_auth_cookie(set_cookies(r), cid) for r in responses)
    assert auth_cookies(browser.jar, cid) == []


async def test_sign_out_while_the_refresh_is_at_the_provider(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """Tab A's request is refreshing (the provider call is held on the wire); tab B signs out.
    When the provider answers, A's response must delete, never write the session back."""
    gate = RefreshGate()
    # B's request carries the same expired cookies, so it first waits for A's refresh; a short
    # wait lets it give up (provider "unavailable") and go on to the sign-out handler.
    manager = gated_manager(emulator, clock, gate, wait_timeout=0.3)
    browser = Browser(build_app(manager))
    cid = emulator.client_id
    await browser.sign_in("alice")
    clock.advance(3600)
    stale = browser.cookie_header("/")

    refreshing = asyncio.create_task(browser.get("/api/session", cookie_header=stale))
    await wait_until(gate.arrived.is_set, "the refresh to reach the provider")
    signed_out = await browser.post("/signout", cookie_header=stale)
    assert signed_out.status_code == 200
    assert auth_cookies(browser.jar, cid) == []

    gate.release()
    response = await refreshing

    assert not gate.timed_out
    assert response.status_code == 200
    assert response.json() == {"username": None}
    assert not writes_auth_cookie(set_cookies(response), cid)
    assert auth_cookies(browser.jar, cid) == []
    assert emulator.refresh_calls() == 1  # the held call did reach moto; its tokens were dropped

    late = await browser.get("/api/me", cookie_header=stale)
    assert late.status_code == 401
    assert set_cookies(late)
    assert not writes_auth_cookie(set_cookies(late), cid)
    assert auth_cookies(browser.jar, cid) == []
    assert emulator.refresh_calls() == 1


async def test_sign_out_between_refresh_and_response(
    manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """The refresh finished, but A's handler is still running when B signs out: A's Set-Cookie
    lines, computed afterwards, must delete rather than write the refreshed tokens."""
    pause = Pause()
    browser = Browser(build_app(manager, pause))
    cid = emulator.client_id
    await browser.sign_in("alice")
    clock.advance(3600)
    stale = browser.cookie_header("/")

    slow = asyncio.create_task(browser.get("/slow", cookie_header=stale))
    await asyncio.wait_for(pause.entered.wait(), 15)
    assert emulator.refresh_calls() == 1
    signed_out = await browser.post("/signout", cookie_header=stale)
    assert signed_out.status_code == 200
    assert emulator.refresh_calls() == 1  # B reused A's result from the grace window
    pause.release.set()
    response = await slow

    assert response.status_code == 200
    assert set_cookies(response)
    assert not writes_auth_cookie(set_cookies(response), cid)
    assert auth_cookies(browser.jar, cid) == []
    late = await browser.get("/api/me", cookie_header=stale)
    assert late.status_code == 401
    assert auth_cookies(browser.jar, cid) == []


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
