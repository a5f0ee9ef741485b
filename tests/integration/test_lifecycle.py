"""A session's life through a real app and a real Cognito API: sign-in, quiet requests, refresh,
sign-out, for a plain username and an e-mail username."""

from __future__ import annotations

import json
from urllib.parse import unquote

import jwt
import pytest

from ssrauth import Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import assert_canonical
from tests.integration.rig.cookies import (
    attributes,
    auth_cookies,
    cookie_name,
    last_auth_user,
    session_names,
    set_cookies,
    value_of,
)

pytestmark = pytest.mark.anyio


def claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_sign_in_writes_amplify_cookies(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    response = await browser.sign_in("alice")

    cid = emulator.client_id
    jar = browser.jar
    # Exactly Amplify v6's family, each once, where Amplify's server adapter puts it.
    assert sorted(c.name for c in jar.cookies) == sorted(session_names(cid, "alice"))
    assert_canonical(jar, session_names(cid, "alice"))
    for line in set_cookies(response):
        assert attributes(line) == {"path": "/", "max-age": "31536000", "secure": "",
                                    "samesite": "Lax"}, line
    # A response that sets tokens must never be stored by a shared cache.
    assert response.headers["cache-control"] == "no-store"

    assert value_of(jar, last_auth_user(cid)) == "alice"
    access = claims(value_of(jar, cookie_name(cid, "alice", "accessToken")))
    id_token = claims(value_of(jar, cookie_name(cid, "alice", "idToken")))
    assert (access["token_use"], access["username"], access["client_id"]) == (
        "access", "alice", cid)
    assert (id_token["token_use"], id_token["aud"], id_token["sub"]) == ("id", cid, access["sub"])
    assert value_of(jar, cookie_name(cid, "alice", "refreshToken"))
    # Amplify's clockDrift: issuer time minus ours, in ms. moto issues on our clock, truncated to
    # the second, so the drift is a non-positive integer above -1 minute.
    drift = int(value_of(jar, cookie_name(cid, "alice", "clockDrift")))
    assert -60_000 < drift <= 0
    # signInDetails exactly as js-cookie encodes Amplify's JSON.
    details = value_of(jar, cookie_name(cid, "alice", "signInDetails"))
    assert details == "{%22loginId%22:%22alice%22%2C%22authFlowType%22:%22USER_PASSWORD_AUTH%22}"
    assert json.loads(unquote(details)) == {"loginId": "alice",
                                            "authFlowType": "USER_PASSWORD_AUTH"}
    assert emulator.calls == {"InitiateAuth:USER_PASSWORD_AUTH": 1}

    me = await browser.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


async def test_wrong_password_sets_nothing(browser: Browser, manager: SessionManager) -> None:
    response = await browser.post("/signin", data={"username": "alice", "password": "nope-123!"})

    assert response.status_code == 401
    assert set_cookies(response) == []
    assert browser.jar.cookies == []
    assert manager.events.count(Event.SIGNED_IN) == 0


async def test_valid_session_sends_no_set_cookie(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager
) -> None:
    await browser.sign_in("alice")
    written = manager.events.count(Event.COOKIES_WRITTEN)
    calls = emulator.calls.copy()

    for path in ("/", "/orders/42", "/api/me"):
        response = await browser.get(path)
        assert response.status_code == 200, path
        assert "set-cookie" not in response.headers, path
        if path != "/api/me":
            assert response.json()["user"] == "alice"
            # Nothing to set, so the app's own caching policy stands.
            assert response.headers["cache-control"] == "private, max-age=60"

    assert emulator.calls == calls
    assert manager.events.count(Event.COOKIES_WRITTEN) == written


async def test_expired_access_token_is_refreshed_once(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    await browser.sign_in("alice")
    cid = emulator.client_id
    before = {c.name: c.value for c in browser.jar.cookies}
    clock.advance(3600)

    response = await browser.get("/api/me")

    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.REFRESH_SUCCEEDED) == 1
    assert response.headers["cache-control"] == "no-store"
    assert_canonical(browser.jar, session_names(cid, "alice"))
    access_name = cookie_name(cid, "alice", "accessToken")
    new_access = value_of(browser.jar, access_name)
    assert new_access != before[access_name]
    assert claims(new_access)["exp"] > clock.now()  # type: ignore[operator]
    assert value_of(browser.jar, cookie_name(cid, "alice", "idToken")) != before[
        cookie_name(cid, "alice", "idToken")]
    # moto does not rotate refresh tokens: the old one stays the one to keep.
    refresh_name = cookie_name(cid, "alice", "refreshToken")
    assert value_of(browser.jar, refresh_name) == before[refresh_name]

    # The next request is quiet again.
    again = await browser.get("/api/me")
    assert again.status_code == 200
    assert "set-cookie" not in again.headers
    assert emulator.refresh_calls() == 1

    # An hour later the next refresh goes straight to the API that works: the capability probe
    # (GetTokensFromRefreshToken, which moto lacks) is made once per provider, not per refresh.
    clock.advance(3600)
    assert (await browser.get("/api/me")).status_code == 200
    assert emulator.refresh_calls() == 2
    assert emulator.calls["GetTokensFromRefreshToken"] <= 1


async def test_sign_out_clears_every_cookie_and_stays_out(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock
) -> None:
    await browser.sign_in("alice")
    stale_tab = browser.cookie_header("/")

    response = await browser.post("/signout")

    assert response.status_code == 200
    assert auth_cookies(browser.jar, emulator.client_id) == []
    assert response.headers["cache-control"] == "no-store"
    assert (await browser.get("/api/me")).status_code == 401
    quiet = await browser.get("/")
    assert quiet.json()["user"] is None
    assert "set-cookie" not in quiet.headers  # nothing left to delete
    assert manager.events.count(Event.SIGNED_OUT) == 1

    # A tab still holding the old cookies (moto cannot revoke the refresh token, so only the
    # tombstone stands between it and a new session): anonymous, told to delete, and no refresh
    # even once the access token has expired.
    clock.advance(3600)
    emulator.reset_calls()
    late = await browser.get("/api/me", cookie_header=stale_tab)
    assert late.status_code == 401
    assert set_cookies(late)
    assert auth_cookies(browser.jar, emulator.client_id) == []
    assert emulator.refresh_calls() == 0


async def test_sign_out_everywhere_ends_the_other_devices_session(
    manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    app = build_app(manager)
    laptop, phone = Browser(app), Browser(app)
    await laptop.sign_in("alice")
    await phone.sign_in("alice")

    assert (await laptop.post("/signout", params={"everywhere": "true"})).status_code == 200
    assert emulator.calls["GlobalSignOut"] == 1

    # The phone's access token stays valid until it expires (JWTs are not recalled); then its
    # refresh is rejected by Cognito and every cookie goes.
    clock.advance(3600)
    response = await phone.get("/api/me")
    assert response.status_code == 401
    assert auth_cookies(phone.jar, emulator.client_id) == []
    assert emulator.refresh_calls() == 1
    assert manager.events.count(Event.REFRESH_REJECTED) == 1


async def test_email_username_round_trip(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    cid = emulator.client_id
    await browser.sign_in("bob@example.com")

    names = session_names(cid, "bob@example.com")
    assert all("%40" in name for name in names[1:])
    assert sorted(c.name for c in browser.jar.cookies) == sorted(names)
    assert_canonical(browser.jar, names)
    # Values keep "@": js-cookie's value encoding puts it back.
    assert value_of(browser.jar, last_auth_user(cid)) == "bob@example.com"

    clock.advance(3600)
    me = await browser.get("/api/me")
    assert me.status_code == 200
    assert me.json()["username"] == "bob@example.com"
    assert emulator.refresh_calls() == 1
    assert_canonical(browser.jar, names)

    assert (await browser.post("/signout")).status_code == 200
    assert auth_cookies(browser.jar, cid) == []
    assert (await browser.get("/api/me")).status_code == 401


@pytest.mark.parametrize("expired", [False, True], ids=["valid", "expired"])
async def test_raw_at_sign_spelling_is_healed(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock, expired: bool
) -> None:
    """Another writer (an older adapter) stored bob's cookies under the raw ``@`` name: two
    browser cookies for one field. One canonical ``%40`` copy must remain."""
    cid = emulator.client_id
    old = Browser(browser.app)
    await old.sign_in("bob@example.com", PASSWORD)
    clock.advance(30)
    await browser.sign_in("bob@example.com")
    for cookie in auth_cookies(old.jar, cid):
        if cookie.name != last_auth_user(cid):
            browser.jar.seed(cookie.name.replace("%40", "@"), cookie.value)
    newest = value_of(browser.jar, cookie_name(cid, "bob@example.com", "accessToken"))
    if expired:
        clock.advance(3600)

    response = await browser.get("/api/me")

    assert response.status_code == 200
    assert response.json()["username"] == "bob@example.com"
    assert sorted(c.name for c in auth_cookies(browser.jar, cid)) == sorted(
        session_names(cid, "bob@example.com"))
    assert_canonical(browser.jar, session_names(cid, "bob@example.com"))
    access = value_of(browser.jar, cookie_name(cid, "bob@example.com", "accessToken"))
    if expired:
        assert emulator.refresh_calls() == 1
        assert claims(access)["exp"] > clock.now()  # type: ignore[operator]
    else:
        assert access == newest  # the freshest copy won, not the first in the header


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
