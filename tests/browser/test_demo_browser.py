"""The seed bug's own stage, in Debian's Chromium: tabs on nested paths, an expiry, a refetch
storm, a background tab, a jar poisoned the way the bug leaves it, and sign-out in one tab.

Every assertion reads the browser's own cookie jar (``context.cookies()``) or what the page got
back, plus the emulator's count of refresh calls that reached Cognito.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.chromium import (
    APP_HOST,
    SITE,
    Demo,
    assert_one_canonical_copy_each,
    auth_cookies,
    fetch_answer,
    fetch_now,
    sign_in,
    start_fetch,
)

#: The tabs of the storm: the dashboard's nested routes (each polls ``<path>/api/me``, so cookies
#: scoped under the path travel) and the home page, which only fetches on demand.
TAB_PATHS = ("/", "/dashboard", "/orders/42", "/a/b/c")
#: More than an access token's hour: every tab holds an expired token after it.
PAST_EXPIRY = 3601
STALE_USER = "mallory"
#: What the dashboard's status line says after a refetch on regaining focus (either event).
FOCUS_REFETCH = re.compile(r"focus|visibilitychange")


def api_for(path: str) -> str:
    """The JSON endpoint under ``path``, as the dashboard on that path polls it."""
    return "/api/me" if path in ("/", "/dashboard") else path.rstrip("/") + "/api/me"


def test_tabs_on_nested_paths_share_one_refresh_and_keep_one_copy_of_each_cookie(
    demo: Demo, new_context: Any, screenshots: Path
) -> None:
    context = new_context()
    first = sign_in(context, demo, screenshots / "demo-sign-in.png")
    first.screenshot(path=screenshots / "demo-dashboard.png", full_page=True)
    signed_in = assert_one_canonical_copy_each(context)
    tabs = [first if path == "/dashboard" else context.new_page() for path in TAB_PATHS]
    for tab, path in zip(tabs, TAB_PATHS, strict=True):
        if tab is not first:
            tab.goto(demo.url + path)
    assert demo.emulator.refresh_calls() == 0

    demo.clock.advance(PAST_EXPIRY)
    for tab, path in zip(tabs, TAB_PATHS, strict=True):
        start_fetch(tab, api_for(path))
    answers = [fetch_answer(tab) for tab in tabs]

    assert [a["status"] for a in answers] == [200] * len(tabs)
    (new_exp,) = {a["body"]["exp"] for a in answers}  # one new token, the same for every tab
    assert new_exp > demo.clock.now()
    assert demo.emulator.refresh_calls() == 1
    refreshed = assert_one_canonical_copy_each(context)
    access = next(n for n in refreshed if n.endswith(".accessToken"))
    assert refreshed[access] != signed_in[access]
    assert refreshed.keys() == signed_in.keys()

    # A tab in the background all along refetches when it gets focus, minutes later.
    demo.clock.advance(120)
    background = tabs[TAB_PATHS.index("/a/b/c")]
    background.bring_to_front()
    background.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(background.locator("#status-detail")).to_contain_text(FOCUS_REFETCH)
    expect(background.locator("#status")).to_have_text("200")
    assert demo.emulator.refresh_calls() == 1
    assert assert_one_canonical_copy_each(context) == refreshed
    first.bring_to_front()
    first.click("#refetch")
    expect(first.locator("#calls tr.hot td.num")).to_have_text("1")
    first.screenshot(path=screenshots / "demo-after-refresh.png", full_page=True)


def test_one_request_heals_the_jar_the_seed_bug_leaves(demo: Demo, new_context: Any) -> None:
    context = new_context()
    page = sign_in(context, demo)
    good = assert_one_canonical_copy_each(context)
    page.goto(demo.url + "/")  # the home page does not poll: nothing heals behind our back
    origin = f"http://{APP_HOST}/"
    stale_prefix = f"CognitoIdentityServiceProvider.{demo.client_id}.{STALE_USER}."
    poisoned: list[dict[str, Any]] = []
    for name, value in good.items():
        # Copies a nested page's script wrote without Path= (the bug), and host-only copies.
        poisoned.append({"name": name, "value": value, "domain": APP_HOST, "path": "/orders"})
        poisoned.append({"name": name, "value": value, "url": origin})
        # A Domain= copy under the host's own name.
        poisoned.append({"name": name, "value": value, "domain": "." + APP_HOST, "path": "/"})
    for field in ("accessToken", "idToken", "refreshToken", "clockDrift"):
        poisoned.append({"name": stale_prefix + field, "value": "left-from-an-earlier-user",
                         "domain": "." + SITE, "path": "/"})
    context.add_cookies(poisoned)
    before = Counter(c["name"] for c in auth_cookies(context))
    assert before.most_common(1)[0][1] >= 3
    assert any(name.startswith(stale_prefix) for name in before)

    answer = fetch_now(page, "/orders/42/api/me")

    assert answer["status"] == 200
    assert any(dup for _name, _value, dup in answer["body"]["cookies_seen"])
    assert assert_one_canonical_copy_each(context) == good
    assert demo.emulator.refresh_calls() == 0
    page.goto(demo.url + "/orders/42")
    expect(page.locator("#status")).to_have_text("200")
    expect(page.locator("#seen tr.dup")).to_have_count(0)


def test_the_demo_seed_bug_button_poisons_the_jar_and_the_next_request_heals_it(
    demo: Demo, new_context: Any, screenshots: Path
) -> None:
    context = new_context()
    sign_in(context, demo)
    page = context.new_page()
    page.goto(demo.url + "/orders/42")
    expect(page.locator("#status")).to_have_text("200")
    good = assert_one_canonical_copy_each(context)

    # The button runs the bug itself: document.cookie without Path= on /orders/42, plus
    # Domain=app.example.test copies. The page's own poll then carries both copies home.
    page.route("**/orders/42/api/me", lambda route: route.abort())  # hold the polls back
    page.click("#seed")
    expect(page.locator("#seed-note")).to_contain_text("Also wrote Domain=")
    copies = Counter(c["name"] for c in auth_cookies(context))
    assert set(copies.values()) == {3}
    page.screenshot(path=screenshots / "demo-seed-bug.png", full_page=True)
    page.unroute("**/orders/42/api/me")

    page.click("#refetch")
    expect(page.locator("#seen tr.dup").first).to_be_visible()
    assert assert_one_canonical_copy_each(context) == good
    expect(page.locator("#jar tr.dup")).to_have_count(0)
    page.screenshot(path=screenshots / "demo-healed.png", full_page=True)


def test_sign_out_in_one_tab_signs_out_every_tab_and_empties_the_jar(
    demo: Demo, new_context: Any, screenshots: Path
) -> None:
    context = new_context()
    tabs = [sign_in(context, demo)]
    for path in TAB_PATHS[2:]:
        tab = context.new_page()
        tab.goto(demo.url + path)
        expect(tab.locator("#status")).to_have_text("200")
        tabs.append(tab)
    stolen = auth_cookies(context)

    tabs[0].click("header button")  # Sign out
    tabs[0].wait_for_url(demo.url + "/")
    expect(tabs[0].locator("input[name=username]")).to_be_visible()
    assert auth_cookies(context) == []

    for tab in tabs[1:]:
        tab.click("#refetch")
        expect(tab.locator("#status")).to_have_text("401")
    tabs[1].screenshot(path=screenshots / "demo-signed-out-tab.png", full_page=True)
    assert auth_cookies(context) == []

    # A copy of the cookies taken before sign-out (another browser, a tab that missed the
    # response) cannot bring the session back, even once its access token has expired.
    demo.clock.advance(PAST_EXPIRY)
    other = new_context()
    other.add_cookies(stolen)
    page = other.new_page()
    page.goto(demo.url + "/")
    assert fetch_now(page, "/api/me")["status"] == 401
    assert auth_cookies(other) == []
    assert demo.emulator.refresh_calls() == 0
