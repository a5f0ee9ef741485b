"""Deletion completeness in Chromium's own jar: copies of a signed-in session under every Domain
spelling ssrauth answers for (host-only, ``Domain=<host>``, the configured parent) and on nested
paths, then one request (a refresh, a sign-out), then ``context.cookies()``: one copy of each
auth cookie, or none. The same properties as tests/unit/test_plan_in_browser.py, whose jar
model follows RFC 6265bis; here the browser is the judge.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from playwright.sync_api import BrowserContext, expect

from tests.browser.chromium import APP_HOST, SITE, Demo, auth_cookies, fetch_now, sign_in

PAST_EXPIRY = 3601
#: Spellings as Chromium's DevTools protocol takes and reports them: a domain without a leading
#: "." is a host-only cookie, with one a Domain cookie.
HOST_ONLY, OWN_DOMAIN, PARENT = APP_HOST, "." + APP_HOST, "." + SITE


def signed_in_session(context: BrowserContext, demo: Demo) -> dict[str, str]:
    """Sign in, take the session's cookies (name -> value) and empty the jar; the page is left
    on the home page, which sends no request of its own from then on."""
    page = sign_in(context, demo)
    session = {c["name"]: c["value"] for c in auth_cookies(context)}
    context.clear_cookies()
    page.goto(demo.url + "/")
    return session


def seed(context: BrowserContext, session: dict[str, str],
         spellings: list[tuple[str, str]]) -> None:
    """A copy of every cookie of ``session`` under each (domain, path) of ``spellings``."""
    context.add_cookies([{"name": name, "value": value, "domain": domain, "path": path}
                         for name, value in session.items() for domain, path in spellings])


def copies(context: BrowserContext) -> Counter[str]:
    return Counter(c["name"] for c in auth_cookies(context))


def held(context: BrowserContext) -> set[tuple[str, str]]:
    return {(c["domain"], c["path"]) for c in auth_cookies(context)}


def refresh_on_a_nested_page(context: BrowserContext, demo: Demo) -> dict[str, Any]:
    """One request, from the page's script: ``GET /orders/42/api/me`` with expired tokens."""
    demo.clock.advance(PAST_EXPIRY)
    return fetch_now(context.pages[0], "/orders/42/api/me")


def test_a_refresh_leaves_one_copy_of_copies_under_every_spelling_and_path(
    demo: Demo, new_context: Any
) -> None:
    context = new_context()
    session = signed_in_session(context, demo)
    seed(context, session, [(spelling, path) for spelling in (HOST_ONLY, OWN_DOMAIN, PARENT)
                            for path in ("/", "/orders", "/orders/42")])
    assert set(copies(context).values()) == {9}

    answer = refresh_on_a_nested_page(context, demo)

    assert answer["status"] == 200
    assert demo.emulator.refresh_calls() == 1
    assert set(copies(context).values()) == {1}
    assert held(context) == {(PARENT, "/")}


def test_a_refresh_replaces_a_session_held_only_under_the_hosts_own_domain(
    host_only_demo: Demo, new_context: Any
) -> None:
    """The hostile-input review's case: every copy once, under ``Domain=<host>; Path=/``, with
    a host-only policy."""
    context = new_context()
    session = signed_in_session(context, host_only_demo)
    seed(context, session, [(OWN_DOMAIN, "/")])

    answer = refresh_on_a_nested_page(context, host_only_demo)

    assert answer["status"] == 200
    assert set(copies(context).values()) == {1}
    # What the refresh wrote is host-only now; what it left alone (LastAuthUser, unchanged)
    # keeps its one copy where it was.
    written = {(c["name"].rsplit(".", 1)[1], c["domain"]) for c in auth_cookies(context)
               if c["value"] != session[c["name"]]}
    assert {field for field, _ in written} >= {"accessToken", "idToken"}
    assert {domain for _, domain in written} == {APP_HOST}
    assert {path for _, path in held(context)} == {"/"}


def test_a_lone_host_domain_copy_on_a_nested_path_leaves_only_tokens_for_one_more_response(
    host_only_demo: Demo, new_context: Any
) -> None:
    """The documented exception (docs/cookies.md, "Limits"): a lone copy of a token under
    ``Domain=<host>`` off ``Path=/`` is deleted by the next response, which keeps the newer
    token; every other cookie is down to one copy at once."""
    context = new_context()
    session = signed_in_session(context, host_only_demo)
    seed(context, session, [(OWN_DOMAIN, "/orders")])

    answer = refresh_on_a_nested_page(context, host_only_demo)

    assert answer["status"] == 200
    twice = {name.rsplit(".", 1)[1] for name, n in copies(context).items() if n > 1}
    assert twice == {"accessToken", "idToken"}
    new_access = fetch_now(context.pages[0], "/orders/42/api/me")["body"]["exp"]
    assert set(copies(context).values()) == {1}
    tokens = {(c["domain"], c["path"]) for c in auth_cookies(context)
              if c["name"].endswith(("accessToken", "idToken"))}
    assert tokens == {(APP_HOST, "/")}
    assert new_access == answer["body"]["exp"]
    assert host_only_demo.emulator.refresh_calls() == 1


def test_sign_out_deletes_copies_under_every_spelling(demo: Demo, new_context: Any) -> None:
    context = new_context()
    session = signed_in_session(context, demo)
    # Every copy the sign-out request (POST /signout) is sent: on "/" and on "/signout".
    seed(context, session, [(spelling, path) for spelling in (HOST_ONLY, OWN_DOMAIN, PARENT)
                            for path in ("/", "/signout")])
    page = context.new_page()
    page.goto(demo.url + "/dashboard")
    expect(page.locator("#status")).to_have_text("200")

    page.click("header button")  # Sign out
    page.wait_for_url(demo.url + "/")

    assert auth_cookies(context) == []
