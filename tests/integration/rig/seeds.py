"""Jars prepared the way real bugs and neighbours leave them: sessions written from outside the
app, the seed bug's duplicates, other apps' cookies."""

from __future__ import annotations

from ssrauth import ManualClock, SessionManager
from tests.accounts import PASSWORD
from tests.browser_jar import BrowserJar

from .cookies import PREFIX, auth_cookies, cookie_name, jar_state


def sign_in_elsewhere(jar: BrowserJar, manager: SessionManager, username: str) -> None:
    """Sign in as Amplify JS in the page would: the cookies arrive from outside the app."""
    auth = manager.load("", "/", jar.host)
    auth.sign_in(username, PASSWORD)
    jar.apply(auth.set_cookie_headers(), request_path="/")


def seed_bug_jar(jar: BrowserJar, manager: SessionManager, clock: ManualClock,
                 under: str = "") -> dict[str, str]:
    """The jar of the Amplify/Next.js duplicate bug: an older session's copies of every auth
    cookie under ``/orders`` (a Set-Cookie without Path= on ``/orders/…``), a Domain= copy of the
    access token from a deployment that set a Domain, and the current sign-in's copies at ``/``.
    ``under`` mounts the site below a prefix. Returns the current sign-in's cookie values."""
    cid = manager.config.client_id
    earlier = BrowserJar(jar.host)
    sign_in_elsewhere(earlier, manager, "alice")
    clock.advance(60)
    sign_in_elsewhere(jar, manager, "alice")
    newest = {c.name: c.value for c in auth_cookies(jar, cid)}
    older = {c.name: c.value for c in auth_cookies(earlier, cid)}
    for name, value in older.items():
        jar.seed(name, value, path=f"{under}/orders")
    access = cookie_name(cid, "alice", "accessToken")
    jar.seed(access, older[access], domain=jar.host)
    assert len(jar.copies(access)) == 3
    return newest


def seed_foreign_cookies(jar: BrowserJar, client_id: str) -> list[tuple[str, str, str, bool, str]]:
    """Put other apps' cookies (and another client id's) in the jar, at several paths; returns
    them as :func:`jar_state` shows them, to compare with :func:`foreign_state` later."""
    for name, value, path in (("theme", "dark", "/"), ("theme", "light", "/orders"),
                              ("_ga", "GA1.1.5.6", "/"),
                              (f"{PREFIX}.{client_id}x.LastAuthUser", "carol", "/")):
        jar.seed(name, value, path=path)
    return foreign_state(jar, client_id)


def foreign_state(jar: BrowserJar, client_id: str) -> list[tuple[str, str, str, bool, str]]:
    return [c for c in jar_state(jar) if not c[0].startswith(f"{PREFIX}.{client_id}.")]
