"""What every framework adapter must deliver, as seen from the browser's jar: one set of tests,
run by test_wsgi_flask.py and test_django.py against their own sites.

A test module subclasses :class:`FrameworkContract` (as ``Test…``) and provides the ``open_site``
fixture: a manager in, a browser (:class:`~tests.integration.rig.browsers.Browser` or
:class:`~tests.integration.rig.browsers.WsgiBrowser`) on a fresh site using it out. Every site
serves the same routes: ``POST /signin`` (form), ``POST /signout``, ``/api/me`` and
``/api/async-me`` (a user required, sync and async views), ``/own-cookie/<field>`` (the app
writes an auth cookie), ``/visit`` (the app sets its own cookie ``visits``) and any other path
(a page).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.apps import APP_VALUE, Arrivals
from tests.integration.rig.browsers import Browser, WsgiBrowser
from tests.integration.rig.checks import (
    assert_anonymous_not_an_error,
    assert_one_session,
    assert_served_through_an_outage,
)
from tests.integration.rig.cookies import (
    PREFIX,
    attributes,
    auth_cookies,
    cookie_name,
    jar_state,
    lines_named,
    set_cookies,
    value_of,
    written_value,
)
from tests.integration.rig.gates import RefreshGate, gated_manager
from tests.integration.rig.outages import FlakyCognito, flaky_config
from tests.integration.rig.seeds import foreign_state, seed_bug_jar, seed_foreign_cookies
from tests.integration.rig.waiting import wait_until

OpenSite = Callable[[SessionManager], Browser | WsgiBrowser]

#: Cookie headers no browser should send; each must be served (anonymous), never a 500.
MALFORMED = [
    "=", ";;;", "a", "==;=;", '"', f"{PREFIX}", f"{PREFIX}.x.y.accessToken=%%%; {PREFIX}.=1",
    "a=b,c=d,,e=", 'x="unterminated ; ;', b"theme=\xff\xfe; lang=\xe6\x97\xa5",
    f"{PREFIX}.{{cid}}.LastAuthUser=alice; {PREFIX}.{{cid}}.alice.accessToken=e30.e30.",
]


@pytest.mark.anyio
class FrameworkContract:
    async def test_sign_in_writes_amplify_cookies_at_the_root(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator
    ) -> None:
        cid = emulator.client_id
        browser = open_site(manager)
        assert (await browser.get("/api/me")).status_code == 401

        response = await browser.get("/orders/42")  # nothing to do: the page is left alone
        assert "set-cookie" not in response.headers
        assert response.headers["cache-control"] == "private, max-age=60"
        signed_in = await browser.sign_in("alice")

        assert signed_in.headers["cache-control"] == "no-store"
        assert_one_session(browser.jar, cid, "alice")
        for route in ("/api/me", "/api/async-me"):
            me = await browser.get(route)
            assert me.status_code == 200
            assert me.json()["username"] == "alice"
            assert "set-cookie" not in me.headers
        assert (await browser.get("/orders/42")).json()["user"] == "alice"

    async def test_twenty_concurrent_requests_make_one_refresh(
        self, open_site: OpenSite, emulator: CognitoEmulator, clock: ManualClock
    ) -> None:
        gate = RefreshGate()
        arrivals = Arrivals()
        browser = open_site(arrivals.watch(gated_manager(emulator, clock, gate)))
        await browser.sign_in("alice")
        access = cookie_name(emulator.client_id, "alice", "accessToken")
        old_access = value_of(browser.jar, access)
        clock.advance(3600)
        header = browser.cookie_header("/api/me")  # every request leaves with the same cookies
        arrivals.count = 0

        requests = [asyncio.create_task(browser.get("/api/me", cookie_header=header))
                    for _ in range(20)]
        # The one provider call is held until all twenty are in: they must share it, not race.
        await wait_until(lambda: arrivals.count == 20 and gate.arrived.is_set(),
                         "twenty requests in flight")
        gate.release()
        responses = await asyncio.gather(*requests)

        assert not gate.timed_out
        assert [r.status_code for r in responses] == [200] * 20
        assert emulator.refresh_calls() == 1
        tokens = {written_value(set_cookies(r), access) for r in responses}
        assert len(tokens) == 1
        assert value_of(browser.jar, access) == tokens.pop() != old_access

    async def test_seed_bug_jar_is_healed_in_one_request(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator,
        clock: ManualClock,
    ) -> None:
        cid = emulator.client_id
        browser = open_site(manager)
        seed_bug_jar(browser.jar, manager, clock)
        clock.advance(3600)

        response = await browser.get("/orders/42")

        assert response.status_code == 200
        assert response.json()["user"] == "alice"
        assert emulator.refresh_calls() == 1
        assert_one_session(browser.jar, cid, "alice")
        for path in ("/orders/42", "/"):
            again = await browser.get(path)
            assert again.json()["user"] == "alice"
            assert "set-cookie" not in again.headers, path

    async def test_an_outage_answers_503_and_keeps_the_cookies(
        self, open_site: OpenSite, emulator: CognitoEmulator, flaky: FlakyCognito,
        clock: ManualClock,
    ) -> None:
        browser = open_site(SessionManager(flaky_config(emulator, flaky), clock=clock))
        await browser.sign_in("alice")
        clock.advance(3600)
        before = jar_state(browser.jar)
        flaky.set_mode("refused")

        api = await browser.get("/api/me")
        page = await browser.get("/orders/42")

        assert_served_through_an_outage(api, page)
        assert jar_state(browser.jar) == before
        assert emulator.refresh_calls() == 0

        flaky.set_mode("up")
        assert (await browser.get("/api/async-me")).status_code == 200
        assert emulator.refresh_calls() == 1

    @pytest.mark.parametrize("header", MALFORMED, ids=range(len(MALFORMED)))
    async def test_a_malformed_cookie_header_is_anonymous_not_an_error(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator,
        header: str | bytes,
    ) -> None:
        if isinstance(header, str):
            header = header.replace("{cid}", emulator.client_id)
        browser = open_site(manager)

        await assert_anonymous_not_an_error(browser, header)

    async def test_cookies_split_over_two_headers_are_one_jar(
        self, open_site: OpenSite, manager: SessionManager
    ) -> None:
        # Servers join repeated Cookie headers with "," (WSGI, Django's ASGI request).
        browser = open_site(manager)
        await browser.sign_in("alice")
        pairs = browser.cookie_header("/").split("; ")

        me = await browser.get("/api/me", cookie_header=["; ".join(pairs[:3]),
                                                         "; ".join(pairs[3:])])

        assert me.status_code == 200
        assert me.json()["username"] == "alice"
        assert "set-cookie" not in me.headers

    async def test_sign_out_clears_every_auth_cookie_and_nothing_else(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator
    ) -> None:
        cid = emulator.client_id
        browser = open_site(manager)
        foreign = seed_foreign_cookies(browser.jar, cid)
        await browser.sign_in("alice")
        # A Domain= copy from an older deployment, which sign-out must reach as well.
        browser.jar.seed(cookie_name(cid, "alice", "idToken"), "stale", domain=browser.jar.host)

        response = await browser.post("/signout")

        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert auth_cookies(browser.jar, cid) == []
        assert foreign_state(browser.jar, cid) == foreign
        assert (await browser.get("/api/me")).status_code == 401

    @pytest.mark.parametrize("field", ["signInDetails", "clockDrift"])
    async def test_the_apps_own_auth_cookie_wins_and_is_sent_once(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator,
        clock: ManualClock, field: str,
    ) -> None:
        browser = open_site(manager)
        await browser.sign_in("alice")
        clock.advance(3600)  # ssrauth refreshes, so it wants to write this field too

        response = await browser.get(f"/own-cookie/{field}")

        assert response.status_code == 200
        assert emulator.refresh_calls() == 1
        name = cookie_name(emulator.client_id, "alice", field)
        canonical = [line for line in lines_named(set_cookies(response), name)
                     if attributes(line).get("path") == "/" and "domain" not in attributes(line)]
        assert len(canonical) == 1
        assert canonical[0].startswith(f"{name}={APP_VALUE};")
        assert value_of(browser.jar, name) == APP_VALUE

    async def test_the_apps_other_cookies_pass_untouched(
        self, open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator,
        clock: ManualClock,
    ) -> None:
        cid = emulator.client_id
        browser = open_site(manager)
        foreign = seed_foreign_cookies(browser.jar, cid)
        await browser.sign_in("alice")
        clock.advance(3600)

        response = await browser.get("/visit")  # the app sets a cookie as ssrauth refreshes

        assert response.status_code == 200
        assert emulator.refresh_calls() == 1
        assert value_of(browser.jar, "visits") == "1"
        assert [c for c in foreign_state(browser.jar, cid) if c[0] != "visits"] == foreign
        assert_one_session(browser.jar, cid, "alice")
