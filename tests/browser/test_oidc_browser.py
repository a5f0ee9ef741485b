"""OpenID Connect sign-in in Debian's Chromium, against the real oidc-provider of the OIDC
integration tests (tests/integration/oidc/idp.py, behind its counting proxy).

The app is ``http://app.example.test:<port>``; the IdP is its proxy, ``http://127.0.0.1:<port>``:
another site, so the IdP's redirect back to ``/callback`` is a cross-site top-level GET, and only
a browser shows that the ``SameSite=Lax`` sign-in state cookie travels with it. (The IdP is not
put on ``idp.example.test``: that would be the app's own site, and prove nothing about
SameSite.) Assertions read Chromium's jar (``context.cookies()``), what the page fetched, and
the proxy's count of calls that reached the IdP.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse
from playwright.sync_api import BrowserContext, Page, Response, expect
from starlette.types import Receive, Scope, Send

from ssrauth import LocalCoordinator, ManualClock, SessionManager
from tests.browser.chromium import (
    APP_HOST,
    assert_one_canonical_copy_each,
    auth_cookies,
    demo_policy,
    fetch_answer,
    fetch_now,
    serve,
    start_fetch,
)
from tests.integration.oidc.idp import AT_TTL, CLIENT_ID, TestIdp, running_idp
from tests.integration.oidc.oidc_app import build_oidc_app, oidc_config

PREFIX = f"ssrauth.{CLIENT_ID}"
FIELDS = ("idToken", "accessToken", "refreshToken", "clockDrift", "expiresAt")
NAMES = sorted([f"{PREFIX}.LastAuthUser"] + [f"{PREFIX}.alice.{f}" for f in FIELDS])
#: Over plain http the state cookie has no ``__Host-`` prefix (it cannot be Secure).
STATE_COOKIE = "ssrauth-signin"
RETURN_TO = "/?welcome=1"
#: Small enough for the pictures in docs/ to stay light.
VIEWPORT = {"width": 900, "height": 380}


class AppSlot:
    """The ASGI app the module's one server runs: each test puts a fresh one in (its own
    manager and clock), on the port the IdP has registered as the redirect URI."""

    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass
class Site:
    url: str
    idp: TestIdp
    clock: ManualClock

    def state_cookies(self, context: BrowserContext) -> list[dict[str, Any]]:
        return [dict(c) for c in context.cookies() if c["name"] == STATE_COOKIE]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with serve(slot) as port:
        yield slot, f"http://{APP_HOST}:{port}"


@pytest.fixture(scope="module")
def idp(server: tuple[AppSlot, str]) -> Iterator[TestIdp]:
    yield from running_idp(server[1] + "/callback")


def home(request: Request) -> HTMLResponse:
    """The page a signed-in user lands on, with a sign-out button (POST /signout)."""
    if request.user.is_authenticated:
        who = f"Signed in as <b id=user>{html.escape(request.user.display_name)}</b>"
    else:
        who = 'Signed out. <a href="/login">Sign in</a>'
    return HTMLResponse(f"""<!doctype html><title>ssrauth + OpenID Connect</title>
<body style="font: 16px system-ui, sans-serif; margin: 2em">
<h1>ssrauth + OpenID Connect</h1><p>{who}</p>
<p><button id=me onclick="load()">GET /api/me</button>
<button id=signout onclick="signOut()">Sign out</button></p>
<pre id=out style="background: #f4f4f4; padding: 1em; white-space: pre-wrap"></pre>
<script>
const out = document.getElementById('out');
async function load() {{
  const r = await fetch('/api/me', {{cache: 'no-store'}});
  out.textContent = r.status + ' ' + JSON.stringify(await r.json(), null, 2);
}}
async function signOut() {{
  const r = await fetch('/signout', {{method: 'POST'}});
  out.textContent = 'signed out: ' + r.status;
}}
</script>""")


@pytest.fixture
def site(server: tuple[AppSlot, str], idp: TestIdp) -> Site:
    slot, url = server
    clock = ManualClock()
    config = oidc_config(idp, redirect_uri=url + "/callback", cookie_policy=demo_policy())
    manager = SessionManager(config, clock=clock, coordinator=LocalCoordinator(clock=clock))
    slot.app = build_oidc_app(manager, home=home)
    return Site(url, idp, clock)


def sign_in(context: BrowserContext, site: Site, screenshot: Path | None = None) -> Page:
    """/login → the IdP's login form → its consent form → /callback → ``RETURN_TO``."""
    page = context.new_page()
    page.goto(f"{site.url}/login?{urlencode({'return_to': RETURN_TO})}")
    page.wait_for_url(f"{site.idp.issuer}/interaction/**")
    (state,) = site.state_cookies(context)
    assert (state["domain"], state["path"], state["httpOnly"], state["sameSite"]) == (
        APP_HOST, "/", True, "Lax")
    if screenshot is not None:
        page.screenshot(path=screenshot)
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    expect(page.locator("input[name=prompt][value=consent]")).to_be_attached()
    with page.expect_response(lambda r: r.url.startswith(site.url + "/callback?")) as callback:
        page.click("button[type=submit]")
    # The IdP's redirect, a cross-site top-level GET, carried the Lax state cookie.
    assert f"{STATE_COOKIE}=" in (callback.value.request.header_value("cookie") or "")
    assert callback.value.status == 303
    page.wait_for_url(site.url + RETURN_TO)
    return page


def test_sign_in_across_sites_carries_the_lax_state_cookie_and_writes_one_session(
    site: Site, new_context: Any, screenshots: Path
) -> None:
    context = new_context(viewport=VIEWPORT)
    page = sign_in(context, site, screenshots / "oidc-idp-login.png")

    assert site.state_cookies(context) == []
    cookies = assert_one_canonical_copy_each(context, PREFIX)
    assert sorted(cookies) == NAMES
    assert {(c["secure"], c["httpOnly"], c["sameSite"])  # demo_policy(): http, Amplify-readable
            for c in auth_cookies(context, PREFIX)} == {(False, False, "Lax")}
    me = fetch_now(page, "/api/me")
    assert me["status"] == 200
    assert me["body"] == {"sub": "alice", "email": "alice@example.com",
                          "access_token": cookies[f"{PREFIX}.alice.accessToken"]}
    expect(page.locator("#user")).to_have_text("alice")
    page.click("#me")
    expect(page.locator("#out")).to_contain_text("alice@example.com")
    page.screenshot(path=screenshots / "oidc-signed-in.png")


def open_callback(page: Page, url: str) -> Response:
    response = page.goto(url)
    assert response is not None
    return response


def test_a_callback_this_browser_did_not_begin_is_refused(site: Site, new_context: Any) -> None:
    # The attacker signs in as themself and keeps the callback URL: a real code, a real state.
    with httpx.Client(base_url=site.url.replace(APP_HOST, "127.0.0.1")) as attacker:
        start = attacker.get("/login")
    assert start.status_code == 303
    callback = site.idp.login(start.headers["location"], user="mallory")
    site.idp.reset_counts()

    victim = new_context().new_page()  # never began a sign-in
    refused = open_callback(victim, callback)
    assert refused.status == 400
    assert "state" in refused.json()["error"]
    assert auth_cookies(victim.context, PREFIX) == []

    # One who began a sign-in of their own gets the same answer, and their sign-in is used up.
    crossed = new_context().new_page()
    crossed.goto(site.url + "/login")
    crossed.wait_for_url(f"{site.idp.issuer}/interaction/**")
    assert len(site.state_cookies(crossed.context)) == 1
    assert open_callback(crossed, callback).status == 400
    assert auth_cookies(crossed.context, PREFIX) == []
    assert site.state_cookies(crossed.context) == []
    assert site.idp.proxy.count("token:authorization_code") == 0  # the code was never tried


def test_sign_out_from_the_page_empties_the_jar_and_revokes_once(
    site: Site, new_context: Any
) -> None:
    context = new_context()
    page = sign_in(context, site)
    assert len(auth_cookies(context, PREFIX)) == len(NAMES)
    site.idp.reset_counts()

    page.click("#signout")
    expect(page.locator("#out")).to_have_text("signed out: 200")

    assert auth_cookies(context, PREFIX) == []
    assert site.idp.proxy.count("/token/revocation") == 1
    assert fetch_now(page, "/api/me")["status"] == 401


def test_two_tabs_after_expiry_make_one_refresh_and_keep_one_copy_of_each_cookie(
    site: Site, new_context: Any
) -> None:
    context = new_context()
    first = sign_in(context, site)
    second = context.new_page()
    second.goto(site.url + "/")
    expect(second.locator("#user")).to_have_text("alice")
    before = assert_one_canonical_copy_each(context, PREFIX)
    site.idp.reset_counts()

    site.clock.advance(AT_TTL + 5)  # expiresAt is on the server's clock
    for tab in (first, second):
        start_fetch(tab, "/api/me")
    answers = [fetch_answer(tab) for tab in (first, second)]

    assert [a["status"] for a in answers] == [200, 200]
    assert site.idp.proxy.count("token:refresh_token") == 1
    after = assert_one_canonical_copy_each(context, PREFIX)
    assert sorted(after) == NAMES
    access = f"{PREFIX}.alice.accessToken"
    assert after[access] != before[access]
    assert {a["body"]["access_token"] for a in answers} == {after[access]}
