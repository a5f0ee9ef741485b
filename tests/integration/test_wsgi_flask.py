"""Flask (and any WSGI app) through ssrauth.wsgi.SsrAuthWSGIMiddleware, served by werkzeug's
threaded server on loopback: the framework contract, a site mounted below a prefix, and the
PEP 3333 duties (the app's iterable, its close(), exc_info) on the raw WSGI interface."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from ssrauth.wsgi import SsrAuthWSGIMiddleware
from ssrauth.wsgi import get_auth as environ_auth
from tests.accounts import HOST, PASSWORD
from tests.integration.rig.browsers import WsgiBrowser
from tests.integration.rig.checks import assert_one_session
from tests.integration.rig.cookies import cookie_name
from tests.integration.rig.flask_app import build_flask_app
from tests.integration.rig.seeds import seed_bug_jar

from .framework_contract import FrameworkContract, OpenSite


@pytest.fixture
def open_site() -> Iterator[OpenSite]:
    browsers: list[WsgiBrowser] = []

    def open_flask_site(manager: SessionManager) -> WsgiBrowser:
        browsers.append(WsgiBrowser(build_flask_app(manager)))
        return browsers[-1]

    yield open_flask_site
    for browser in browsers:
        browser.close()


class TestFlask(FrameworkContract):
    pass


@pytest.mark.anyio
async def test_a_site_mounted_below_a_prefix_heals_the_copies_under_it(
    manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    # Cookie paths are the URL the browser sees: SCRIPT_NAME ("/shop") and PATH_INFO together.
    site = DispatcherMiddleware(NotFound(), {"/shop": build_flask_app(manager)})
    browser = WsgiBrowser(site)
    try:
        seed_bug_jar(browser.jar, manager, clock, under="/shop")
        clock.advance(3600)

        response = await browser.get("/shop/orders/42")
        again = await browser.get("/shop/orders/42")
    finally:
        browser.close()

    assert response.json()["user"] == "alice"
    assert emulator.refresh_calls() == 1
    assert_one_session(browser.jar, emulator.client_id, "alice")
    assert "set-cookie" not in again.headers


@pytest.mark.anyio
async def test_a_401_can_be_turned_into_a_redirect_by_the_app(manager: SessionManager) -> None:
    app = build_flask_app(manager)
    app.register_error_handler(401, lambda error: ("", 302, {"Location": "/signin"}))
    browser = WsgiBrowser(app)
    try:
        response = await browser.get("/api/me")
    finally:
        browser.close()

    assert response.status_code == 302
    assert response.headers["location"] == "/signin"


# -- PEP 3333 on the raw interface ----------------------------------------------------------------


class Body:
    """A response iterable with close(), streamed in chunks, as a file-backed response is."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def call(app: Callable[..., Iterable[bytes]], cookie: str = "", path: str = "/"
         ) -> tuple[list[tuple[str, list[tuple[str, str]], Any]], Iterable[bytes]]:
    """Run one request through ``app`` on the raw WSGI interface; every start_response call is
    recorded with its exc_info."""
    environ: dict[str, Any] = {"HTTP_HOST": HOST, "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]], Any]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], object]:
        started.append((status, headers, exc_info))
        return lambda data: None

    return started, app(environ, start_response)


def test_the_apps_iterable_reaches_the_server_as_it_came(manager: SessionManager) -> None:
    body = Body([b"first ", b"second"])

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ_auth(environ).sign_in("alice", PASSWORD)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
        return body

    started, iterable = call(SsrAuthWSGIMiddleware(app, manager))

    assert iterable is body  # close(), file wrappers and streaming stay the server's business
    [(status, headers, _)] = started
    assert status == "200 OK"
    assert ("Cache-Control", "no-store") in headers
    assert ("Cache-Control", "max-age=60") not in headers
    assert len([v for k, v in headers if k == "Set-Cookie"]) == 6


def test_an_error_page_replacing_the_response_gets_the_cookies(
    manager: SessionManager, emulator: CognitoEmulator
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ_auth(environ).sign_in("alice", PASSWORD)
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("the page failed before its first byte")
        except RuntimeError as error:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                           (RuntimeError, error, error.__traceback__))
        return [b"error page"]

    started, iterable = call(SsrAuthWSGIMiddleware(app, manager))

    assert list(iterable) == [b"error page"]
    (_, first, _), (status, headers, exc_info) = started
    assert status.startswith("500")
    assert exc_info is not None  # passed on, for the server to re-raise if headers went out
    written = [v for k, v in headers if k == "Set-Cookie"]
    assert written == [v for k, v in first if k == "Set-Cookie"]
    access = cookie_name(emulator.client_id, "alice", "accessToken")
    assert any(v.startswith(f"{access}=") for v in written)


def test_a_response_with_nothing_to_add_is_left_alone(manager: SessionManager) -> None:
    sent = [("Content-Type", "text/plain"), ("Set-Cookie", "theme=dark; Path=/")]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", sent)
        return [b"ok"]

    started, _ = call(SsrAuthWSGIMiddleware(app, manager), cookie="theme=dark")

    assert started[0][1] is sent
