"""The demo's Starlette app: a sign-in page, a dashboard, and the JSON the dashboard polls.

Thin on purpose. Sessions, refreshes and cookie healing are all done by ``SsrAuthMiddleware``;
the demo only *shows* what happened (the Cookie header the server received, the event counters,
the emulator's API calls) and moves the clock it shares with the emulator, so a one-hour token
lifetime fits in a minute of watching.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from contextvars import ContextVar
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ssrauth import (
    CookiePolicy,
    Event,
    ProviderRejected,
    ProviderUnavailable,
    Session,
    SessionManager,
    SignInChallenge,
    parse_cookie_header,
)
from ssrauth._core.origin import insecure_origin_warning
from ssrauth.emulator import CognitoEmulator
from ssrauth.starlette import SsrAuthMiddleware, get_auth

__all__ = ["create_app"]

#: The clock button accepts at most a week: enough to expire anything, small enough to stay sane.
MAX_CLOCK_STEP = 7 * 86_400

#: moto puts an attribute in id tokens only when the app client lists it in ReadAttributes.
NO_EMAIL = "(not in the id token)"

#: Responses that show session data must not be cached, or a poll would show stale state.
NO_STORE = {"cache-control": "no-store"}

#: The counters a watcher should read first: what refreshes did, then what healing did. The
#: rest follow in the order ssrauth declares its events.
FIRST_COUNTERS = ("refresh_started", "refresh_coalesced", "refresh_reused", "refresh_rejected",
                  "provider_unavailable", "duplicates_seen", "cookies_deleted", "cookies_written")


def create_app(
    emulator: CognitoEmulator,
    *,
    manager: SessionManager | None = None,
    demo_user: tuple[str, str] | None = None,
) -> Starlette:
    """Build the demo on a started emulator; ``emulator.clock`` is the clock the buttons move.

    Without ``manager`` one is made for plain-http serving (see below). ``demo_user`` (username,
    password) is shown on the sign-in page, because the emulator's user is not a secret.
    """
    clock = emulator.clock
    if manager is None:
        # The demo is served over plain http on loopback, and browsers drop a Secure cookie set
        # over http (Safari even on localhost), so Secure is off here. Keep the default
        # (secure=True) anywhere else.
        config = emulator.config(cookie_policy=CookiePolicy(secure=False))
        manager = SessionManager(config, clock=clock)
    elif manager.clock is not clock:
        raise ValueError("the manager must use the emulator's clock, or the clock buttons lie")
    templates = _Templates()
    manager.events.subscribe(_record_event)
    # Amplify's cookie-name prefix, for the page's script only: to shorten names on screen and
    # to pick the auth cookies the seed-bug button copies.
    cookie_prefix = manager.keys.prefix

    def state(request: Request) -> tuple[dict[str, Any], int]:
        """What /api/me answers: who the server thinks you are and what it saw on the way."""
        auth = get_auth(request)
        session = auth.session
        now = clock.now()
        body: dict[str, Any] = {
            "user": _user(session) if session else None,
            "exp": session.access_token.exp if session else None,
            "now": now,
            "expires_in": session.access_token.exp - now if session else None,
            "clock_offset": clock.offset,
            "path": request.url.path,
            "cookies_seen": _cookies_seen(request, manager),
            "counters": _counters_first(manager.events.snapshot()),
            # A plain copy of a Counter is one C-level call, safe next to the emulator's thread.
            "calls": dict(emulator.calls),
            # moto lacks GetTokensFromRefreshToken: ssrauth's one probe of it shows up here.
            "unimplemented": dict(emulator.unimplemented),
            "refresh_calls": emulator.refresh_calls(),
            "unavailable": str(auth.unavailable) if auth.unavailable else None,
            # What this very request did (refreshed, waited for another's refresh, …), so a
            # burst can be tallied per request rather than guessed from counter deltas.
            "this_request": list(_request_events.get() or ()),
        }
        if session is not None:
            return body, 200
        return body, 503 if auth.unavailable else 401

    async def me(request: Request) -> Response:
        body, status = state(request)
        return JSONResponse(body, status_code=status, headers=NO_STORE)

    async def home(request: Request) -> Response:
        session = get_auth(request).session
        if session is not None:
            signed_in = _Html(
                '<main><div class="card narrow"><h1>ssrauth demo</h1>'
                f'<p>Signed in as <b>{html.escape(session.username)}</b>.</p>'
                '<p><a class="button" href="/dashboard">Open the dashboard</a></p></div></main>'
            )
            return page(request, "ssrauth demo", signed_in)
        return sign_in_form(request)

    def page(request: Request, title: str, body: _Html, status: int = 200) -> HTMLResponse:
        """A page, under a banner when the browser would drop this manager's cookies here."""
        warning = insecure_origin_warning(manager.config.cookie_policy, request.url.scheme,
                                          request.headers.get("host", ""))
        banner = templates.render("banner.html", warning=warning) if warning else _NO_BANNER
        return templates.page(title, body, status, banner)

    def sign_in_form(request: Request, error: str = "", username: str = "",
                     status: int = 200) -> Response:
        hint = ""
        if demo_user is not None:
            hint = f"Demo user: {demo_user[0]} / {demo_user[1]}"
            username = username or demo_user[0]
        body = templates.render("signin.html", error=error, username=username, hint=hint,
                                error_class="error" if error else "hidden")
        return page(request, "Sign in · ssrauth demo", body, status)

    async def sign_in(request: Request) -> Response:
        form = await request.form()
        username, password = form.get("username"), form.get("password")
        if isinstance(username, str):
            username = username.strip()
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            return sign_in_form(request, "Enter a username and a password.", status=400)
        try:
            await get_auth(request).asign_in(username, password)
        except ProviderRejected:
            return sign_in_form(request, "Wrong username or password.", username, 401)
        except SignInChallenge as challenge:
            message = f"Cognito asks for the {challenge.challenge} step, which the demo lacks."
            return sign_in_form(request, message, username, 401)
        except ProviderUnavailable as error:
            return sign_in_form(request, f"Cognito is unavailable: {error}", username, 503)
        return RedirectResponse("/dashboard", status_code=303)

    async def sign_out(request: Request) -> Response:
        await get_auth(request).asign_out()
        return RedirectResponse("/", status_code=303)

    async def dashboard(request: Request) -> Response:
        session = get_auth(request).session
        if session is None:
            return RedirectResponse("/", status_code=303)
        path = request.url.path
        # The panel polls an /api/me *under this page's path*, so cookies scoped to a nested
        # path (the seed bug) reach the server and can be healed there.
        api = "/api/me" if path == "/dashboard" else path.rstrip("/") + "/api/me"
        user = _user(session)
        boot = {"api": api, "prefix": cookie_prefix, "exp": session.access_token.exp,
                "now": clock.now(), "offset": clock.offset,
                "margin": manager.config.refresh_margin, "no_email": NO_EMAIL}
        body = templates.render(
            "dashboard.html",
            path=path, api=api, username=user["username"], sub=user["sub"],
            email=user["email"] or NO_EMAIL,
            expires_in=_duration(session.access_token.exp - clock.now()),
            offset=_duration(clock.offset),
            boot=_Html(json.dumps(boot).replace("<", "\\u003c")),
        )
        return page(request, f"{path} · ssrauth demo", body)

    async def move_clock(request: Request) -> Response:
        try:
            seconds = float((await request.json())["seconds"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"seconds": <number>}'}, status_code=400)
        if not math.isfinite(seconds) or not 0 < seconds <= MAX_CLOCK_STEP:
            return JSONResponse({"error": f"seconds must be in (0, {MAX_CLOCK_STEP}]"},
                                status_code=400)
        clock.advance(seconds)
        return JSONResponse({"clock_offset": clock.offset, "now": clock.now()},
                            headers=NO_STORE)

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", sign_out, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/clock", move_clock, methods=["POST"]),
        # Before the nested pages, which would otherwise swallow /orders/42/api/me.
        Route("/{prefix:path}/api/me", me, methods=["GET"]),
        Route("/dashboard", dashboard, methods=["GET"]),
        Route("/orders/{rest:path}", dashboard, methods=["GET"]),
        Route("/a/{rest:path}", dashboard, methods=["GET"]),
    ]
    middleware = [Middleware(_RecordEvents), Middleware(SsrAuthMiddleware, manager=manager)]
    return Starlette(routes=routes, middleware=middleware)


#: The events emitted while serving the current request (set by the outermost middleware).
_request_events: ContextVar[list[str] | None] = ContextVar("ssrauth_demo_events", default=None)


def _record_event(event: Event, _count: int, _details: Mapping[str, Any]) -> None:
    events = _request_events.get()
    if events is not None:
        events.append(event.value)


class _RecordEvents:
    """Outermost middleware: gives each request a fresh list for :func:`_record_event`.

    The session is loaded (and refreshed) inside this request's task, so the events the
    manager emits meanwhile land in this request's list.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _request_events.set([])
        try:
            await self.app(scope, receive, send)
        finally:
            _request_events.reset(token)


def _counters_first(snapshot: dict[str, int]) -> dict[str, int]:
    """The snapshot with :data:`FIRST_COUNTERS` first (JSON keeps the order to the page)."""
    first = {name: snapshot[name] for name in FIRST_COUNTERS if name in snapshot}
    return first | snapshot


def _user(session: Session) -> dict[str, str]:
    email = session.claims.get("email")
    return {"username": session.username, "sub": session.sub,
            "email": email if isinstance(email, str) else ""}


def _cookies_seen(request: Request, manager: SessionManager) -> list[list[Any]]:
    """The Cookie header as received: [name, shortened value, sent more than once?] in order.

    "More than once" groups our cookies the way the library reads them (``a@b`` and ``a%40b``
    are one field sent twice), by asking the manager's own key family.
    """
    cookies = parse_cookie_header("; ".join(request.headers.getlist("cookie")))

    def identity(name: str) -> object:
        ours = manager.keys.classify(name)
        return (ours.username, ours.field) if ours is not None else name

    counts = Counter(identity(c.name) for c in cookies)
    return [[c.name, _shorten(c.value), counts[identity(c.name)] > 1] for c in cookies]


def _shorten(value: str) -> str:
    """Enough of a token to tell two apart on screen, not enough to be one."""
    return value if len(value) <= 24 else f"{value[:10]}…{value[-8:]}"


def _duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    return f"{sign}{minutes}m {secs:02d}s"


class _Html(str):
    """Markup that goes into a template as is; every other value is escaped."""


_NO_BANNER = _Html("")


class _Templates:
    """``{{ name }}`` substitution over the package's HTML files: no template engine to install.

    A missing value is an error rather than an empty string, so a typo cannot ship silently.
    """

    _FIELD = re.compile(r"\{\{\s*(\w+)\s*\}\}")

    def __init__(self) -> None:
        folder = resources.files(__package__ or "ssrauth.demo")
        self._sources = {
            name: folder.joinpath(name).read_text(encoding="utf-8")
            for name in ("layout.html", "signin.html", "dashboard.html", "banner.html")
        }

    def render(self, name: str, **values: object) -> _Html:
        def fill(match: re.Match[str]) -> str:
            value = values[match.group(1)]
            return value if isinstance(value, _Html) else html.escape(str(value))

        return _Html(self._FIELD.sub(fill, self._sources[name]))

    def page(self, title: str, body: _Html, status: int = 200,
             banner: _Html = _NO_BANNER) -> HTMLResponse:
        return HTMLResponse(self.render("layout.html", title=title, body=body, banner=banner),
                            status_code=status, headers=NO_STORE)
