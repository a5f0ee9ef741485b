"""Assertions on outcomes: what the jar holds, what an outage answers."""

from __future__ import annotations

import httpx

from tests.browser_jar import BrowserJar

from .browsers import JarClient
from .cookies import auth_cookies, session_names


def assert_canonical(jar: BrowserJar, names: list[str]) -> None:
    """Each name held exactly once, at Path=/, host-only (the policy's one canonical copy)."""
    for name in names:
        copies = jar.copies(name)
        assert [(c.path, c.host_only) for c in copies] == [("/", True)], (
            f"{name}: {[(c.path, c.domain, c.host_only) for c in copies]}"
        )


def assert_one_session(jar: BrowserJar, client_id: str, username: str) -> None:
    """The jar holds ``username``'s session and nothing else of ours, each cookie once, at
    Path=/, host-only."""
    names = session_names(client_id, username)
    assert sorted(c.name for c in auth_cookies(jar, client_id)) == sorted(names)
    assert_canonical(jar, names)


def assert_served_through_an_outage(api: httpx.Response, page: httpx.Response) -> None:
    """The user may well be signed in; we could not ask: 503 + Retry-After where a user is
    required (not a 401 that sends them to sign-in), a page served as anonymous, no cookie
    touched."""
    assert api.status_code == 503
    assert int(api.headers["retry-after"]) > 0
    assert page.status_code == 200
    assert page.json()["user"] is None
    for response in (api, page):
        assert "set-cookie" not in response.headers


async def assert_anonymous_not_an_error(browser: JarClient, header: str | bytes) -> None:
    """A request with this Cookie header is served as anonymous: 401 where a user is required,
    the page otherwise; never a 500."""
    me = await browser.get("/api/me", cookie_header=header)
    page = await browser.get("/", cookie_header=header)
    assert me.status_code == 401
    assert page.status_code == 200
    assert page.json()["user"] is None
