"""OIDC rig: one oidc-provider for the session (tests/oidc, behind a counting proxy), and per
test a fresh ssrauth manager on a movable clock in front of a FastAPI app with /login and
/callback, as docs/oidc.md shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ssrauth import (
    LocalCoordinator,
    ManualClock,
    OidcConfig,
    ProviderRejected,
    ProviderUnavailable,
    SessionManager,
    SignInError,
)
from ssrauth.fastapi import Auth, RequireUser
from ssrauth.starlette import SsrAuthMiddleware
from tests.conftest import HOST
from tests.integration.conftest import Browser, WsgiBrowser
from tests.integration.oidc.idp import AT_TTL, CLIENT_ID, TestIdp, running_idp

REDIRECT_URI = f"https://{HOST}/callback"
PREFIX = f"ssrauth.{CLIENT_ID}"


@pytest.fixture(scope="session")
def idp() -> Iterator[TestIdp]:
    yield from running_idp(REDIRECT_URI)


def oidc_config(idp: TestIdp, **changes: object) -> OidcConfig:
    config = OidcConfig(issuer=idp.issuer, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI,
                        authorize_params={"prompt": "consent"})
    return config.with_changes(**changes)


@pytest.fixture
def manager(idp: TestIdp, clock: ManualClock) -> Iterator[SessionManager]:
    idp.proxy.fail_with = None
    with SessionManager(oidc_config(idp), clock=clock,
                        coordinator=LocalCoordinator(clock=clock)) as manager:
        yield manager


def build_oidc_app(manager: SessionManager,
                   home: Callable[[Request], HTMLResponse] | None = None) -> FastAPI:
    """The quick start's app; ``home``, if given, answers ``/`` (an HTML page for a browser),
    every other path a JSON page naming the user."""
    app = FastAPI()
    app.add_middleware(SsrAuthMiddleware, manager=manager)

    @app.get("/login")
    async def login(auth: Auth, return_to: str = "/") -> RedirectResponse:
        return RedirectResponse(await auth.abegin_sign_in(return_to), status_code=303)

    @app.get("/callback")
    async def callback(request: Request, auth: Auth) -> Response:
        try:
            return_to = await auth.acomplete_sign_in(dict(request.query_params))
        except (SignInError, ProviderRejected) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except ProviderUnavailable as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return RedirectResponse(return_to, status_code=303)

    @app.post("/signout")
    async def sign_out(auth: Auth) -> dict[str, str | None]:
        return {"logout": await auth.asign_out()}

    @app.get("/api/me")
    def me(user: RequireUser) -> dict[str, str]:
        return {"sub": user.sub, "email": str(user.claims.get("email")),
                "access_token": user.access_token.raw}

    if home is not None:
        app.get("/", response_class=HTMLResponse)(home)

    @app.get("/{path:path}")
    def page(request: Request, path: str) -> JSONResponse:
        user = request.user.display_name if request.user.is_authenticated else None
        return JSONResponse({"user": user, "path": path})

    return app


@pytest.fixture
def browser(manager: SessionManager) -> Browser:
    return Browser(build_oidc_app(manager))


async def log_in(browser: Browser | WsgiBrowser, idp: TestIdp, user: str = "alice",
                 return_to: str = "/", lands_on: str | None = None) -> None:
    """/login → the IdP's forms → /callback, as a browser would follow the redirects."""
    start = await browser.get("/login", params={"return_to": return_to})
    assert start.status_code == 303, start.text
    back = idp.login(start.headers["location"], user)
    done = await browser.get(back.removeprefix(f"https://{HOST}"))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == (lands_on or return_to)


async def expired_burst(browser: Browser | WsgiBrowser, idp: TestIdp,
                        clock: ManualClock) -> list[httpx.Response]:
    """Twenty requests at once with one expired session's cookies: all served, and the IdP
    sees exactly one refresh_token grant."""
    idp.reset_counts()
    clock.advance(AT_TTL + 5)
    header = browser.cookie_header("/")
    answers = await asyncio.gather(*(browser.get("/api/me", cookie_header=header)
                                     for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert idp.proxy.count("token:refresh_token") == 1
    return answers
