"""Refresh-token rotation and revocation, end to end. moto lacks GetTokensFromRefreshToken and
RevokeToken, so a loopback proxy adds Cognito's rules for both on top of moto's real API: each
refresh is moto's REFRESH_TOKEN_AUTH, the new refresh token is a real one moto issued for the
user, a retired refresh token is answered RefreshTokenReuseException (RetryGracePeriodSeconds=0)
and a revoked one NotAuthorizedException, as Cognito does."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from ssrauth import Event, LocalCoordinator, ManualClock, SessionManager, SharedCoordinator
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import auth_cookies, cookie_name, value_of
from tests.integration.rig.rotation import RotatingCognito

pytestmark = pytest.mark.anyio



@pytest.fixture
def rotating(emulator: CognitoEmulator) -> Iterator[RotatingCognito]:
    server = RotatingCognito(emulator.url, emulator.client_id, "alice", PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rotating_manager(
    emulator: CognitoEmulator, rotating: RotatingCognito, clock: ManualClock
) -> Iterator[SessionManager]:
    direct = emulator.config()
    with SessionManager(direct.with_changes(endpoint_url=rotating.url,
                                            jwks_url=direct.jwks_url), clock=clock) as manager:
        yield manager


async def test_late_tabs_win_and_stale_copies_never_log_the_user_out(
    rotating_manager: SessionManager, rotating: RotatingCognito, clock: ManualClock,
    emulator: CognitoEmulator,
) -> None:
    browser = Browser(build_app(rotating_manager))
    await browser.sign_in("alice")
    refresh_name = cookie_name(emulator.client_id, "alice", "refreshToken")
    access_name = cookie_name(emulator.client_id, "alice", "accessToken")
    old_refresh = value_of(browser.jar, refresh_name)
    stale_tab = browser.cookie_header("/")  # a tab whose request left before the refresh
    clock.advance(3600)

    refreshed = await browser.get("/api/me")
    new_refresh = value_of(browser.jar, refresh_name)
    new_access = value_of(browser.jar, access_name)
    late = await browser.get("/api/me", cookie_header=stale_tab)  # within the grace window

    assert refreshed.status_code == late.status_code == 200
    assert new_refresh != old_refresh  # rotated
    assert rotating.rotations == 1  # the late tab was served the stored result
    assert value_of(browser.jar, refresh_name) == new_refresh
    assert value_of(browser.jar, access_name) == new_access

    clock.advance(61)  # past the grace window: Cognito now refuses the retired token
    stale = await browser.get("/api/me", cookie_header=stale_tab)
    current = await browser.get("/api/me")

    assert stale.status_code == 401  # that stale request is not served...
    assert "set-cookie" not in stale.headers  # ...and deletes nothing by name
    assert current.status_code == 200  # the browser's real, newer session lives on
    assert value_of(browser.jar, refresh_name) == new_refresh
    assert rotating_manager.events.count(Event.REFRESH_REJECTED) == 1


async def test_a_lost_refresh_response_ends_in_a_clean_sign_in_not_a_stuck_browser(
    rotating_manager: SessionManager, clock: ManualClock, emulator: CognitoEmulator
) -> None:
    """The response carrying the rotated cookies never reached the browser (the app failed after
    the refresh). Its old refresh token is dead at Cognito; for a while its refusal deletes
    nothing (it looks like a stale tab's), then the cookies are cleared so the user can sign
    in again rather than stay anonymous with cookies nobody can use."""
    browser = Browser(build_app(rotating_manager))
    await browser.sign_in("alice")
    old_jar = copy.deepcopy(browser.jar)
    clock.advance(3600)
    assert (await browser.get("/api/me")).status_code == 200  # refreshed and rotated...
    browser.jar = old_jar  # ...but the browser never got that response
    coordinator = rotating_manager.coordinator
    assert isinstance(coordinator, LocalCoordinator | SharedCoordinator)

    clock.advance(61)  # past the grace window
    soon = await browser.get("/api/me")
    clock.advance(coordinator.superseded_ttl)
    later = await browser.get("/api/me")

    assert soon.status_code == later.status_code == 401
    assert "set-cookie" not in soon.headers
    assert auth_cookies(browser.jar, emulator.client_id) == []


async def test_sign_out_revokes_so_no_other_server_can_bring_the_session_back(
    rotating_manager: SessionManager, rotating: RotatingCognito, clock: ManualClock,
    emulator: CognitoEmulator,
) -> None:
    """Where the provider has RevokeToken, sign-out revokes the refresh token at the provider:
    a copy of the cookies taken to another server process (which knows no tombstone) cannot
    refresh its way back in, and its response clears them."""
    browser = Browser(build_app(rotating_manager))
    await browser.sign_in("alice")
    refresh_token = value_of(browser.jar, cookie_name(emulator.client_id, "alice", "refreshToken"))
    copied = copy.deepcopy(browser.jar)

    assert (await browser.post("/signout")).status_code == 200
    assert rotating.revoked == {refresh_token}
    # Another host: no store shared with this one.
    other_process = SessionManager(rotating_manager.config, clock=clock,
                                   coordinator=LocalCoordinator(clock=clock))
    elsewhere = Browser(build_app(other_process))
    elsewhere.jar = copied
    clock.advance(3600)

    assert (await elsewhere.get("/api/me")).status_code == 401
    assert auth_cookies(elsewhere.jar, emulator.client_id) == []
    assert other_process.events.count(Event.REFRESH_REJECTED) == 1
