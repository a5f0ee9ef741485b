"""What the browser ends up holding: duplicates healed to one canonical copy, another user's
leftovers removed, and everything that is not ours never touched."""

from __future__ import annotations

import pytest

from ssrauth import CookiePolicy, Event, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.checks import assert_canonical
from tests.integration.rig.cookies import (
    PREFIX,
    SIGN_IN_FIELDS,
    auth_cookies,
    cookie_name,
    last_auth_user,
    session_names,
    set_cookies,
    value_of,
)
from tests.integration.rig.seeds import seed_bug_jar

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("expired", [False, True], ids=["tidy", "refresh"])
async def test_seed_bug_duplicates_end_as_one_canonical_copy(
    browser: Browser,
    emulator: CognitoEmulator,
    manager: SessionManager,
    clock: ManualClock,
    expired: bool,
) -> None:
    cid = emulator.client_id
    newest = seed_bug_jar(browser.jar, manager, clock)
    access = cookie_name(cid, "alice", "accessToken")
    if expired:
        clock.advance(3600)

    response = await browser.get("/orders/42")

    assert response.status_code == 200
    assert response.json()["user"] == "alice"
    assert manager.events.count(Event.DUPLICATES_SEEN) >= 1
    assert sorted(c.name for c in auth_cookies(browser.jar, cid)) == sorted(
        session_names(cid, "alice"))
    assert_canonical(browser.jar, session_names(cid, "alice"))
    if expired:
        assert emulator.refresh_calls() == 1
        assert value_of(browser.jar, access) not in newest.values()
    else:
        assert emulator.refresh_calls() == 0
        assert value_of(browser.jar, access) == newest[access]  # freshest, not first in header
    # Healed for good: the next request anywhere on the site has nothing left to fix.
    for path in ("/orders/42", "/"):
        again = await browser.get(path)
        assert again.json()["user"] == "alice"
        assert "set-cookie" not in again.headers, path


@pytest.mark.parametrize("field", ["idToken", "refreshToken"])
async def test_seed_bug_keeps_the_winning_sessions_companions(
    browser: Browser, emulator: CognitoEmulator, manager: SessionManager, clock: ManualClock,
    field: str,
) -> None:
    cid = emulator.client_id
    newest = seed_bug_jar(browser.jar, manager, clock)

    response = await browser.get("/orders/42")

    assert response.json()["user"] == "alice"
    # The copies differ in number (a lone Domain= copy of the access token), so position alone
    # cannot pair them. The id token must describe the same sign-in as the access token, and
    # dropping the newest refresh token for the older session's would leave a live Cognito
    # session nobody can revoke.
    name = cookie_name(cid, "alice", field)
    assert value_of(browser.jar, name) == newest[name]


@pytest.mark.parametrize("arrival", ["page", "sign-in"])
async def test_previous_users_session_is_removed_device_keys_kept(
    browser: Browser, emulator: CognitoEmulator, arrival: str
) -> None:
    cid = emulator.client_id
    await browser.sign_in("bob@example.com")
    device_key = cookie_name(cid, "bob@example.com", "deviceKey")
    browser.jar.seed(device_key, "us-east-1_0d8f5c1e-device")
    if arrival == "page":
        # Alice signed in through Amplify JS in the page: her family lands beside bob's and
        # LastAuthUser now names her.
        other = Browser(browser.app)
        await other.sign_in("alice")
        for cookie in auth_cookies(other.jar, cid):
            browser.jar.seed(cookie.name, cookie.value)
        response = await browser.get("/")
        assert response.json()["user"] == "alice"
    else:
        await browser.sign_in("alice")
    assert value_of(browser.jar, last_auth_user(cid)) == "alice"

    for field in SIGN_IN_FIELDS:
        assert browser.jar.copies(cookie_name(cid, "bob@example.com", field)) == [], field
    # Amplify keeps remembered-device keys across users and sign-outs; so do we.
    assert value_of(browser.jar, device_key) == "us-east-1_0d8f5c1e-device"
    assert_canonical(browser.jar, session_names(cid, "alice"))
    assert (await browser.get("/api/me")).json()["username"] == "alice"


async def test_foreign_cookies_are_never_touched(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    cid = emulator.client_id
    foreign = {
        ("theme", "/"): "dark",
        ("theme", "/orders"): "light",
        (f"{PREFIX}.otherclient.alice.accessToken", "/"): "eyJhbGciOiJub25lIn0.e30.",
        (f"{PREFIX}.otherclient.LastAuthUser", "/"): "alice",
        # Client ids that extend or are a prefix of ours are other apps too.
        (f"{PREFIX}.{cid}x.alice.refreshToken", "/"): "another-apps-token",
        (f"{PREFIX}.{cid[:-2]}.LastAuthUser", "/orders"): "alice",
    }
    for (name, path), value in foreign.items():
        browser.jar.seed(name, value, path=path)
    lines: list[str] = []

    lines += set_cookies(await browser.sign_in("alice"))
    lines += set_cookies(await browser.get("/orders/42"))
    for cookie in list(auth_cookies(browser.jar, cid)):  # duplicates, so there is tidying to do
        browser.jar.seed(cookie.name, cookie.value, path="/orders")
    lines += set_cookies(await browser.get("/orders/42"))
    clock.advance(3600)
    lines += set_cookies(await browser.get("/orders/42"))
    lines += set_cookies(await browser.post("/signout"))
    lines += set_cookies(await browser.get("/orders/42"))

    assert emulator.refresh_calls() == 1
    assert auth_cookies(browser.jar, cid) == []
    foreign_names = {name for name, _ in foreign}
    touched = [line for line in lines if line.split("=", 1)[0] in foreign_names]
    assert touched == []
    held = {(c.name, c.path): c.value for c in browser.jar.cookies}
    assert held == foreign


async def test_routine_refresh_on_a_deep_page_fits_a_proxy_header_buffer(
    browser: Browser, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """nginx's proxy_buffer_size (8 KiB at most by default) holds the whole response head; past
    it the user gets a 502 instead of their refreshed session."""
    await browser.sign_in("alice")
    clock.advance(3600)

    response = await browser.get("/orders/42/items/7")

    assert response.json()["user"] == "alice"
    assert emulator.refresh_calls() == 1
    head = sum(len(key) + len(value) + 4 for key, value in response.headers.raw)
    assert head < 8192, f"{head} bytes of headers, {len(set_cookies(response))} Set-Cookie lines"
    assert_canonical(browser.jar, session_names(emulator.client_id, "alice"))


async def test_legacy_domain_cookies_converge_to_host_only(
    manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """An earlier deployment wrote the family with Domain=<host>. The refresh writes the changed
    fields host-only; the next request sees those twice and sweeps the Domain copies. Fields the
    refresh did not change (LastAuthUser, refreshToken, signInDetails) stay single Domain copies:
    one copy each, never two. Served as alice throughout."""
    cid = emulator.client_id
    legacy = SessionManager(emulator.config(cookie_policy=CookiePolicy(domain=HOST)), clock=clock)
    old_site = Browser(build_app(legacy))
    await old_site.sign_in("alice")
    assert {c.host_only for c in old_site.jar.cookies} == {False}
    browser = Browser(build_app(manager))
    browser.jar = old_site.jar
    clock.advance(3600)

    first = await browser.get("/orders/42")
    second = await browser.get("/orders/42")
    third = await browser.get("/")

    assert [r.json()["user"] for r in (first, second, third)] == ["alice"] * 3
    assert emulator.refresh_calls() == 1
    names = session_names(cid, "alice")
    changed = {n for n in names if n.rsplit(".", 1)[1] in ("accessToken", "idToken", "clockDrift")}
    assert_canonical(browser.jar, changed)
    assert all(len(browser.jar.copies(name)) == 1 for name in names)
    assert "set-cookie" not in third.headers
