"""The real Amplify JS v6 client (npm ``aws-amplify``, pinned in ``tests/amplify/package.json``)
and ssrauth share one session through the browser's cookie jar.

Amplify runs in Chromium with ``Amplify.configure(config, { ssr: true })`` and signs in with
``USER_PASSWORD_AUTH``; its ``userPoolEndpoint`` is a same-origin proxy in front of moto that maps
``GetTokensFromRefreshToken`` (Amplify >= 6.15.4; moto lacks it) to ``InitiateAuth
REFRESH_TOKEN_AUTH``: see ``amplify_rig``. The server (ssrauth) talks to moto directly.

Both clocks move together: ``advance`` moves the server's ``ManualClock`` (moto mints ``iat`` and
``exp`` from it) and the page's ``Date.now()`` (Playwright's clock), so Amplify's own expiry rule
``Date.now() + clockDrift + 5000 > exp * 1000`` sees the same hour pass as the server does. A
token the server did not replace is therefore expired to Amplify too, and "Amplify did not
refresh" means it found the server's new cookies, not that it had no reason to refresh.

Assertions read the browser's own jar (``context.cookies()``), the server's ``/api/me``, what
Amplify's APIs return in the page, and the call counters (moto's, and the proxy's for Amplify).
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import BrowserContext, Page

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.browser.amplify_rig import (
    AMPLIFY_SSR_POLICY,
    CognitoProxy,
    build_bundle,
    create_rig_app,
)
from tests.browser.chromium import PREFIX, WAIT_MS, serve

#: The token lifetime moto issues, plus one second: expired on both clocks.
HOUR = 3601
PLAIN = "alice"
EMAIL = "alice@example.com"
SESSION_FIELDS = ("accessToken", "idToken", "refreshToken", "clockDrift", "signInDetails")


@pytest.fixture(scope="session")
def amplify_bundle() -> Path:
    try:
        return build_bundle()
    except RuntimeError as error:
        pytest.fail(str(error))


@dataclass
class Rig:
    """One browser profile on the Amplify page, the server, moto and the proxy."""

    emulator: CognitoEmulator
    clock: ManualClock
    proxy: CognitoProxy
    context: BrowserContext
    page: Page

    def amplify(self, name: str, *args: Any) -> Any:
        """Call ``window.amplifyTest[name](...args)`` in the page; plain JSON back."""
        answer = self.page.evaluate("([name, args]) => window.amplifyTest[name](...args)",
                                    [name, list(args)])
        self.settle()
        return answer

    def fetch(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        """A same-origin request from the page, so the browser's jar sends and stores cookies."""
        answer = self.page.evaluate(
            """async ([method, path, form]) => {
                const init = {method, cache: 'no-store', credentials: 'same-origin'};
                if (form) init.body = new URLSearchParams(form);
                const response = await fetch(path, init);
                const type = response.headers.get('content-type') || '';
                return {status: response.status, url: response.url,
                        body: type.includes('json') ? await response.json() : null};
            }""",
            [method, path, form],
        )
        self.settle()
        return answer

    def me(self) -> tuple[int, dict[str, Any]]:
        answer = self.fetch("GET", "/api/me")
        return answer["status"], answer["body"]

    def settle(self) -> None:
        """Wait until the browser's jar holds what the page sees in ``document.cookie``.

        js-cookie writes in the renderer; the jar ``context.cookies()`` reads lives in the
        network service and hears of the write over another channel, so wait for them to agree.
        """
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            seen = self.page.evaluate("document.cookie").split("; ")
            in_page = sorted(pair for pair in seen if pair.startswith(PREFIX + "."))
            in_jar = sorted(f"{c['name']}={c['value']}" for c in self.context.cookies()
                            if c["name"].startswith(PREFIX + "."))
            if in_page == in_jar:
                return
            assert time.monotonic() < deadline, f"jar {in_jar} != page {in_page}"
            time.sleep(0.02)

    def jar(self) -> dict[str, str]:
        """Auth cookies in the browser's jar, name to value; fails on any duplicate name."""
        cookies = [c for c in self.context.cookies() if c["name"].startswith(PREFIX + ".")]
        # One copy per field: two spellings of one name (a@b, a%40b) count as duplicates too.
        names = Counter(unquote(c["name"]) for c in cookies)
        assert all(n == 1 for n in names.values()), f"duplicate cookies: {names}"
        for cookie in cookies:  # Amplify's ssr:true attributes, whoever wrote the cookie
            assert (cookie["path"], cookie["domain"], cookie["secure"], cookie["httpOnly"],
                    cookie["sameSite"]) == ("/", "127.0.0.1", True, False, "Lax"), cookie
        return {c["name"]: c["value"] for c in cookies}

    def key(self, username: str, field: str) -> str:
        """The cookie name Amplify (js-cookie) uses for ``field`` of ``username``."""
        return f"{PREFIX}.{self.emulator.client_id}.{quote(username, safe='')}.{field}"

    @property
    def last_auth_user(self) -> str:
        return f"{PREFIX}.{self.emulator.client_id}.LastAuthUser"

    def advance(self, seconds: float) -> None:
        """Move the server's clock and the page's ``Date.now()`` together."""
        self.clock.advance(seconds)
        self.page.clock.set_system_time(_moment(self.clock))

    def server_calls(self) -> Counter[str]:
        """Cognito calls the server made itself: everything moto saw, minus Amplify's."""
        return self.emulator.calls - self.proxy.forwarded


def _moment(clock: ManualClock) -> datetime:
    return datetime.fromtimestamp(clock.now(), tz=UTC)


@pytest.fixture
def rig(amplify_bundle: Path, new_context: Callable[..., BrowserContext]) -> Iterator[Rig]:
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator:
        emulator.create_user(PLAIN, PASSWORD)
        emulator.create_user(EMAIL, PASSWORD, email=EMAIL, email_verified="true")
        manager = SessionManager(emulator.config(cookie_policy=AMPLIFY_SSR_POLICY), clock=clock)
        proxy = CognitoProxy(emulator.url)
        with serve(create_rig_app(emulator, manager, proxy, amplify_bundle)) as port:
            context = new_context()
            page = context.new_page()
            page.clock.install(time=_moment(clock))
            page.goto(f"http://127.0.0.1:{port}/amplify")
            page.wait_for_function("window.amplifyTest && window.amplifyTest.ready")
            try:
                yield Rig(emulator, clock, proxy, context, page)
            finally:
                context.close()


def _payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def _signed_in_by_amplify(rig: Rig, username: str) -> dict[str, str]:
    assert rig.amplify("signIn", username, PASSWORD) == {"isSignedIn": True, "nextStep": "DONE"}
    jar = rig.jar()
    assert jar[rig.last_auth_user] == username
    return jar


@pytest.mark.parametrize("username", [PLAIN, EMAIL])
def test_amplify_sign_in_is_the_servers_session(rig: Rig, username: str) -> None:
    jar = _signed_in_by_amplify(rig, username)
    # USER_PASSWORD_AUTH keys the cookies by the login id as typed; js-cookie encodes the name.
    if username == EMAIL:
        assert rig.key(username, "accessToken").endswith(".alice%40example.com.accessToken")
    assert set(jar) == {rig.last_auth_user, *(rig.key(username, f) for f in SESSION_FIELDS)}
    assert unquote(jar[rig.key(username, "signInDetails")]) == json.dumps(
        {"loginId": username, "authFlowType": "USER_PASSWORD_AUTH"}, separators=(",", ":"))

    status, me = rig.me()

    assert status == 200
    assert me["user"]["username"] == username
    assert me["exp"] == _payload(jar[rig.key(username, "accessToken")])["exp"]
    if username == EMAIL:
        assert me["user"]["email"] == EMAIL
    # The server took Amplify's cookies as they were: no Cognito call, nothing rewritten.
    assert rig.server_calls() == Counter()
    assert rig.jar() == jar


@pytest.mark.parametrize("username", [PLAIN, EMAIL])
def test_server_sign_in_is_amplifys_session(rig: Rig, username: str) -> None:
    answer = rig.fetch("POST", "/signin", {"username": username, "password": PASSWORD})
    assert answer["url"].endswith("/dashboard")
    jar = rig.jar()
    assert jar[rig.last_auth_user] == username
    access = jar[rig.key(username, "accessToken")]

    user = rig.amplify("getCurrentUser")
    session = rig.amplify("fetchAuthSession")

    assert user["username"] == username
    assert user["userId"] == _payload(access)["sub"]
    assert user["signInDetails"] == {"loginId": username, "authFlowType": "USER_PASSWORD_AUTH"}
    assert session["accessToken"] == access
    assert session["idToken"] == jar[rig.key(username, "idToken")]
    assert rig.proxy.calls == Counter()  # Amplify read the cookies; it asked Cognito nothing
    assert rig.jar() == jar


def test_server_refresh_is_read_by_amplify_without_refreshing(rig: Rig) -> None:
    before = _signed_in_by_amplify(rig, PLAIN)
    access_key = rig.key(PLAIN, "accessToken")
    rig.advance(HOUR)  # expired on both clocks: whoever looks first must refresh

    status, me = rig.me()

    assert status == 200
    assert rig.emulator.refresh_calls() == 1
    assert rig.server_calls()["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1
    after = rig.jar()
    assert after[access_key] != before[access_key]
    assert me["exp"] == _payload(after[access_key])["exp"] > rig.clock.now()

    session = rig.amplify("fetchAuthSession")
    user = rig.amplify("getCurrentUser")

    assert session["accessToken"] == after[access_key]
    assert session["idToken"] == after[rig.key(PLAIN, "idToken")]
    assert user["username"] == PLAIN
    # Amplify took the server's tokens as fresh: it did not refresh, nobody refreshed again.
    assert rig.proxy.refreshes() == 0
    assert rig.emulator.refresh_calls() == 1
    assert rig.me()[0] == 200
    assert rig.emulator.refresh_calls() == 1
    assert rig.jar() == after


def test_amplify_refresh_is_read_by_the_server_without_refreshing(rig: Rig) -> None:
    """The mirror image, and the control for the test above: with nobody else refreshing,
    Amplify does refresh the expired tokens itself (through the proxy)."""
    before = _signed_in_by_amplify(rig, PLAIN)
    access_key = rig.key(PLAIN, "accessToken")
    rig.advance(HOUR)

    session = rig.amplify("fetchAuthSession")

    assert rig.proxy.calls["GetTokensFromRefreshToken"] == 1
    after = rig.jar()
    assert session["accessToken"] == after[access_key] != before[access_key]
    assert after[rig.key(PLAIN, "refreshToken")] == before[rig.key(PLAIN, "refreshToken")]

    status, me = rig.me()

    assert status == 200
    assert me["exp"] == _payload(after[access_key])["exp"]
    assert rig.emulator.refresh_calls() == 1  # Amplify's, mapped by the proxy
    assert rig.server_calls() == Counter()
    assert rig.jar() == after


def test_amplify_sign_out_after_a_server_refresh_leaves_no_cookie(rig: Rig) -> None:
    _signed_in_by_amplify(rig, PLAIN)
    rig.advance(HOUR)
    assert rig.me()[0] == 200
    assert rig.emulator.refresh_calls() == 1  # the server rewrote the tokens

    assert rig.amplify("signOut") == {"signedOut": True}

    # js-cookie's removals (Path=/, host-only) hit the server-written cookies: none is left.
    # (Device keys would stay by design; moto's sign-in returns no NewDeviceMetadata, so none
    # was ever written.)
    assert rig.jar() == {}
    # Amplify revoked the refresh token first; moto lacks RevokeToken (HTML 500) and Amplify
    # swallows that error and clears its tokens anyway, as against any failing RevokeToken.
    assert rig.proxy.calls["RevokeToken"] == 1
    assert rig.emulator.unimplemented["RevokeToken"] == 1
    status, me = rig.me()
    assert status == 401
    assert me["user"] is None
    assert rig.amplify("getCurrentUser")["error"] == "UserUnAuthenticatedException"
    assert rig.proxy.refreshes() == 0
    assert rig.jar() == {}


def test_server_sign_out_signs_amplify_out(rig: Rig) -> None:
    _signed_in_by_amplify(rig, EMAIL)
    assert rig.amplify("fetchAuthSession")["accessToken"] is not None

    answer = rig.fetch("POST", "/signout")

    assert answer["status"] == 200
    assert rig.jar() == {}
    session = rig.amplify("fetchAuthSession")
    assert session == {"accessToken": None, "idToken": None, "userSub": None}
    assert rig.amplify("getCurrentUser")["error"] == "UserUnAuthenticatedException"
    assert rig.me()[0] == 401
    assert rig.proxy.refreshes() == 0
    assert rig.jar() == {}
