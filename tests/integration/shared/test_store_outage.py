"""The shared store fails (Redis at a closed port, a SQLite path that cannot be a database):
requests are coordinated in their own process, nobody is logged out, nothing answers 500.

Through the real middleware, with a browser's cookie jar, against moto.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from ssrauth import Event, Events, ManualClock, RedisCoordinator, SessionManager, SqliteCoordinator
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import assert_canonical
from tests.integration.rig.cookies import (
    auth_cookies,
    cookie_name,
    jar_state,
    session_names,
    value_of,
)

pytestmark = pytest.mark.anyio

Broken = Callable[[Path, ManualClock, Events], SharedCoordinator]


def closed_port_redis(_tmp: Path, clock: ManualClock, events: Events) -> SharedCoordinator:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return RedisCoordinator(f"redis://127.0.0.1:{port}/0", clock=clock, events=events)


def sqlite_under_a_file(tmp: Path, clock: ManualClock, events: Events) -> SharedCoordinator:
    (tmp / "not-a-directory").write_text("a file where the directory should be")
    return SqliteCoordinator(tmp / "not-a-directory" / "ssrauth.db", clock=clock, events=events)


def sqlite_not_a_database(tmp: Path, clock: ManualClock, events: Events) -> SharedCoordinator:
    (tmp / "ssrauth.db").write_bytes(b"this is no SQLite file " * 100)
    return SqliteCoordinator(tmp / "ssrauth.db", clock=clock, events=events)


@pytest.fixture(params=[closed_port_redis, sqlite_under_a_file, sqlite_not_a_database])
def outage(request: pytest.FixtureRequest, tmp_path: Path, emulator: CognitoEmulator,
           clock: ManualClock) -> tuple[SessionManager, Browser]:
    events = Events()
    broken: Broken = request.param
    manager = SessionManager(emulator.config(), clock=clock, events=events,
                             coordinator=broken(tmp_path, clock, events))
    return manager, Browser(build_app(manager))


async def test_an_expired_session_is_refreshed_in_process_when_the_store_is_down(
    outage: tuple[SessionManager, Browser], emulator: CognitoEmulator, clock: ManualClock
) -> None:
    manager, browser = outage
    await browser.sign_in("alice")
    access = cookie_name(emulator.client_id, "alice", "accessToken")
    old_access = value_of(browser.jar, access)
    clock.advance(3600)

    response = await browser.get("/api/me")

    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert value_of(browser.jar, access) != old_access
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.STORE_UNAVAILABLE) >= 1
    assert_canonical(browser.jar, session_names(emulator.client_id, "alice"))


async def test_a_refusal_while_the_store_is_down_keeps_the_cookies(
    outage: tuple[SessionManager, Browser], emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """Another process may have rotated the token (its mark is out of reach): 503, not a
    logout."""
    _, browser = outage
    await browser.sign_in("alice")
    access = value_of(browser.jar, cookie_name(emulator.client_id, "alice", "accessToken"))
    emulator.call("GlobalSignOut", {"AccessToken": access})
    clock.advance(3600)
    before = jar_state(browser.jar)

    response = await browser.get("/api/me")

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert jar_state(browser.jar) == before


async def test_sign_out_still_works_and_holds_in_this_process(
    outage: tuple[SessionManager, Browser], emulator: CognitoEmulator, clock: ManualClock
) -> None:
    _, browser = outage
    await browser.sign_in("alice")
    stale = browser.cookie_header("/")

    signed_out = await browser.post("/signout")
    clock.advance(3600)
    late = await browser.get("/api/me", cookie_header=stale)

    assert signed_out.status_code == 200
    assert late.status_code == 401
    assert auth_cookies(browser.jar, emulator.client_id) == []
    assert emulator.refresh_calls() == 0
