"""Refresh-token rotation and revocation, end to end. moto lacks GetTokensFromRefreshToken and
RevokeToken, so a loopback proxy adds Cognito's rules for both on top of moto's real API: each
refresh is moto's REFRESH_TOKEN_AUTH, the new refresh token is a real one moto issued for the
user, a retired refresh token is answered RefreshTokenReuseException (RetryGracePeriodSeconds=0)
and a revoked one NotAuthorizedException, as Cognito does."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ssrauth import Event, LocalCoordinator, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator

from .conftest import (
    PASSWORD,
    Browser,
    FlakyCognito,
    auth_cookies,
    build_app,
    cookie_name,
    value_of,
)

pytestmark = pytest.mark.anyio

_TARGET = "AWSCognitoIdentityProviderService."


class RotatingCognito(FlakyCognito):
    """moto behind Cognito's rotation and revocation rules, for one user whose password the test
    knows."""

    def __init__(self, upstream: str, client_id: str, username: str, password: str) -> None:
        super().__init__(upstream)
        self.client_id, self.username, self.password = client_id, username, password
        self.retired: set[str] = set()
        self.revoked: set[str] = set()
        self.rotations = 0

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = headers["x-amz-target"]
        if target == _TARGET + "RevokeToken":
            self.revoked.add(json.loads(body)["Token"])
            return 200, {"content-type": "application/x-amz-json-1.1"}, b"{}"
        if target != _TARGET + "GetTokensFromRefreshToken":
            return super().answer(headers, body)
        refresh_token = json.loads(body)["RefreshToken"]
        if refresh_token in self.revoked:
            return _error("NotAuthorizedException", "Refresh Token has been revoked")
        if refresh_token in self.retired:
            return _error("RefreshTokenReuseException", "already rotated")
        status, kept, payload = self._initiate_auth("REFRESH_TOKEN_AUTH",
                                                    {"REFRESH_TOKEN": refresh_token})
        if status != 200:
            return status, kept, payload
        result = json.loads(payload)
        _, _, fresh = self._initiate_auth("USER_PASSWORD_AUTH",
                                          {"USERNAME": self.username, "PASSWORD": self.password})
        result["AuthenticationResult"]["RefreshToken"] = json.loads(fresh)[
            "AuthenticationResult"]["RefreshToken"]
        self.retired.add(refresh_token)
        self.rotations += 1
        return 200, kept, json.dumps(result).encode()

    def _initiate_auth(
        self, flow: str, parameters: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        body = {"AuthFlow": flow, "ClientId": self.client_id, "AuthParameters": parameters}
        headers = {"content-type": "application/x-amz-json-1.1",
                   "x-amz-target": _TARGET + "InitiateAuth"}
        return self._forward(headers, json.dumps(body).encode())


def _error(name: str, message: str) -> tuple[int, dict[str, str], bytes]:
    payload = json.dumps({"__type": name, "message": message}).encode()
    return 400, {"content-type": "application/x-amz-json-1.1"}, payload


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
    assert isinstance(coordinator, LocalCoordinator)

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
    other_process = SessionManager(rotating_manager.config, clock=clock)
    elsewhere = Browser(build_app(other_process))
    elsewhere.jar = copied
    clock.advance(3600)

    assert (await elsewhere.get("/api/me")).status_code == 401
    assert auth_cookies(elsewhere.jar, emulator.client_id) == []
    assert other_process.events.count(Event.REFRESH_REJECTED) == 1
