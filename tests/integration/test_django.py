"""Django through ssrauth.django.SsrAuthMiddleware, under both of Django's real handlers: the WSGI
handler served by werkzeug's threaded server on loopback, and the ASGI handler through httpx's
ASGI transport. The framework contract, and what only Django needs proven: several Set-Cookie
lines for one cookie name reach the browser, although Django keeps one cookie per name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.integration.rig.browsers import Browser, WsgiBrowser
from tests.integration.rig.cookies import (
    attributes,
    cookie_name,
    lines_named,
    set_cookies,
    value_of,
)

from . import django_site
from .framework_contract import FrameworkContract, OpenSite

django_site.configure()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402 - needs the settings
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import override_settings  # noqa: E402


@pytest.fixture(params=["wsgi", "asgi"])
def open_site(request: pytest.FixtureRequest) -> Iterator[OpenSite]:
    servers: list[WsgiBrowser] = []

    def open_django_site(manager: SessionManager) -> Browser | WsgiBrowser:
        django_site.manager = manager  # read by the middleware as the handler loads it
        if request.param == "asgi":
            return Browser(ASGIHandler())
        servers.append(WsgiBrowser(WSGIHandler()))
        return servers[-1]

    yield open_django_site
    django_site.manager = None
    for server in servers:
        server.close()


class TestDjango(FrameworkContract):
    pass


@pytest.mark.anyio
async def test_one_name_on_two_paths_reaches_the_browser_as_two_lines(
    open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    browser = open_site(manager)
    await browser.sign_in("alice")
    access = cookie_name(emulator.client_id, "alice", "accessToken")
    browser.jar.seed(access, value_of(browser.jar, access), path="/orders")
    clock.advance(3600)

    response = await browser.get("/orders/42")

    # The refresh writes the access token at / and deletes the copy at /orders (and sweeps the
    # Domain spellings on each path): one name, many Set-Cookie headers on the wire, where
    # response.cookies would have kept one.
    lines = lines_named(set_cookies(response), access)
    assert len(set(lines)) == len(lines) > 2
    assert {"/", "/orders"} <= {attributes(line)["path"] for line in lines}
    assert [(c.path, c.host_only) for c in browser.jar.copies(access)] == [("/", True)]
    assert emulator.refresh_calls() == 1


@pytest.mark.anyio
async def test_require_user_answers_like_fastapi(
    open_site: OpenSite, manager: SessionManager
) -> None:
    browser = open_site(manager)

    for route in ("/api/me", "/api/async-me"):
        response = await browser.get(route)
        assert response.status_code == 401
        assert response.json() == {"detail": "sign-in required"}


def test_the_manager_must_be_configured() -> None:
    with override_settings(SSRAUTH_MANAGER=None), pytest.raises(ImproperlyConfigured):
        WSGIHandler()
    with override_settings(SSRAUTH_MANAGER="ssrauth.CognitoConfig"), pytest.raises(
        ImproperlyConfigured
    ):
        WSGIHandler()


@pytest.mark.anyio
async def test_a_cookie_name_beyond_ascii_never_breaks_the_response(
    open_site: OpenSite, manager: SessionManager, emulator: CognitoEmulator,
    request: pytest.FixtureRequest,
) -> None:
    """Found by ``make fuzz`` (django-asgi): a stale user's raw spelling with a byte beyond
    ASCII drew a deletion line Django's ASGI handler could not encode (UnicodeEncodeError, no
    response). Under ASGI that line is left out; under WSGI it is sent and deletes the copy."""
    browser = open_site(manager)
    await browser.sign_in("alice")
    stale = f"CognitoIdentityServiceProvider.{emulator.client_id}.jos\u00e9.accessToken"
    browser.jar.seed(stale, "left-by-an-older-writer")

    # Sent as the browser's bytes: httpx would refuse the str beyond ASCII.
    header = browser.jar.cookie_header("/").encode("latin-1")
    response = await browser.get("/api/me", cookie_header=header)

    assert response.status_code == 200
    asgi = request.node.callspec.params["open_site"] == "asgi"
    assert len(browser.jar.copies(stale)) == (1 if asgi else 0)
