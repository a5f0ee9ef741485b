"""Integration rig: a real app behind SsrAuthMiddleware, a browser that stores cookies the way
Chromium does, and real network conditions between ssrauth and the moto Cognito API.

Nothing here fakes the provider. Outages are made on the wire: a loopback server in front of the
emulator that refuses, hangs or answers errors (:class:`FlakyCognito`), and an httpx transport
that holds refresh calls on their way to moto until the test lets them go (:class:`RefreshGate`).
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from wsgiref.types import WSGIApplication

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from werkzeug.serving import make_server

from ssrauth import (
    CognitoConfig,
    CognitoProvider,
    LocalCoordinator,
    ManualClock,
    ProviderRejected,
    ProviderUnavailable,
    RequestAuth,
    SessionManager,
)
from ssrauth.emulator import CognitoEmulator
from ssrauth.fastapi import Auth, CurrentSession, RequireUser
from ssrauth.starlette import SsrAuthMiddleware
from tests.browser_jar import BrowserJar, StoredCookie
from tests.conftest import HOST, PASSWORD

PREFIX = "CognitoIdentityServiceProvider"
#: What sign-in writes (Amplify's TokenStore fields plus LastAuthUser).
SIGN_IN_FIELDS = ("accessToken", "idToken", "refreshToken", "clockDrift", "signInDetails")
#: Upper bound for every wait in this suite: generous for two noisy cores, never a timing claim.
WAIT = 15.0
#: A value the test app writes itself, to tell its Set-Cookie from ssrauth's.
APP_VALUE = "written-by-the-app"


# -- names, built by hand rather than with ssrauth's own AmplifyKeys ------------------------------


def cookie_name(client_id: str, username: str, field: str) -> str:
    """Amplify's name for a user's field; js-cookie encodes ``@`` as ``%40`` (our users need no
    other escape)."""
    return f"{PREFIX}.{client_id}.{username.replace('@', '%40')}.{field}"


def last_auth_user(client_id: str) -> str:
    return f"{PREFIX}.{client_id}.LastAuthUser"


def session_names(client_id: str, username: str) -> list[str]:
    """Every name a sign-in writes for ``username``."""
    return [last_auth_user(client_id)] + [
        cookie_name(client_id, username, field) for field in SIGN_IN_FIELDS
    ]


def auth_cookies(jar: BrowserJar, client_id: str) -> list[StoredCookie]:
    """Cookies of our client id's family, in either name spelling (the prefix has nothing to
    encode, so both spellings start with it)."""
    return [c for c in jar.cookies if c.name.startswith(f"{PREFIX}.{client_id}.")]


def value_of(jar: BrowserJar, name: str) -> str:
    """The single copy's value; fails if the browser holds none or several."""
    copies = jar.copies(name)
    assert len(copies) == 1, f"{name}: {len(copies)} copies {[(c.path, c.domain) for c in copies]}"
    return copies[0].value


def jar_state(jar: BrowserJar) -> list[tuple[str, str, str, bool, str]]:
    """Everything the browser holds, comparable before and after a request."""
    return sorted((c.name, c.value, c.domain, c.host_only, c.path) for c in jar.cookies)


def assert_canonical(jar: BrowserJar, names: list[str]) -> None:
    """Each name held exactly once, at Path=/, host-only (the policy's one canonical copy)."""
    for name in names:
        copies = jar.copies(name)
        assert [(c.path, c.host_only) for c in copies] == [("/", True)], (
            f"{name}: {[(c.path, c.domain, c.host_only) for c in copies]}"
        )


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def attributes(line: str) -> dict[str, str]:
    """A Set-Cookie line's attributes, lower-cased names (``Secure`` → ``{"secure": ""}``)."""
    pairs = (part.strip().partition("=") for part in line.split(";")[1:])
    return {key.lower(): value for key, _, value in pairs}


def lines_named(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.split("=", 1)[0].strip() == name]


def written_value(lines: list[str], name: str) -> str:
    """The value of the one Set-Cookie line that writes ``name`` (deletions carry Max-Age=0)."""
    writes = [line.split(";")[0].split("=", 1)[1] for line in lines_named(lines, name)
              if "Max-Age=0" not in line]
    assert len(writes) == 1, f"{name}: {len(writes)} writes in {lines}"
    return writes[0]


def writes_auth_cookie(lines: list[str], client_id: str) -> bool:
    """Whether any line sets (not deletes) one of our client's cookies."""
    return any(line.startswith(f"{PREFIX}.{client_id}.") and "Max-Age=0" not in line
               for line in lines)


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


async def assert_anonymous_not_an_error(browser: _JarClient, header: str | bytes) -> None:
    """A request with this Cookie header is served as anonymous: 401 where a user is required,
    the page otherwise; never a 500."""
    me = await browser.get("/api/me", cookie_header=header)
    page = await browser.get("/", cookie_header=header)
    assert me.status_code == 401
    assert page.status_code == 200
    assert page.json()["user"] is None


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` while letting the event loop run; bounded, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


# -- the application under test -------------------------------------------------------------------


class Pause:
    """Holds the ``/slow`` handler after the middleware ran and before the response starts, so a
    test can act between a refresh and the Set-Cookie that carries its result."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


def build_app(manager: SessionManager, pause: Pause | None = None) -> FastAPI:
    """A small FastAPI site using every public ssrauth dependency, as the README shows."""
    app = FastAPI()
    app.add_middleware(SsrAuthMiddleware, manager=manager)

    @app.post("/signin")
    async def sign_in(auth: Auth, username: str = Form(), password: str = Form()) -> JSONResponse:
        try:
            session = await auth.asign_in(username, password)
        except ProviderRejected as error:
            return JSONResponse({"error": error.code}, status_code=401)
        except ProviderUnavailable as error:
            return JSONResponse({"error": "unavailable"}, status_code=503,
                                headers={"retry-after": str(error.retry_after)})
        return JSONResponse({"username": session.username})

    @app.post("/signout")
    async def sign_out(auth: Auth, everywhere: bool = False) -> dict[str, bool]:
        await auth.asign_out(everywhere=everywhere)
        return {"signed_out": True}

    @app.get("/api/me")
    def me(user: RequireUser) -> dict[str, str]:
        return {"username": user.username, "sub": user.sub}

    @app.get("/api/session")
    def current(session: CurrentSession) -> dict[str, str | None]:
        return {"username": session.username if session is not None else None}

    @app.get("/own-cookie/{field}")
    def own_cookie(field: str, user: RequireUser) -> JSONResponse:
        # The app writes one of the auth cookies itself (say, a custom signInDetails): ssrauth must
        # leave that cookie to it rather than send a second Set-Cookie for the same identity.
        response = JSONResponse({"username": user.username})
        name = cookie_name(manager.config.client_id, user.cookie_username, field)
        response.headers.append("set-cookie", f"{name}={APP_VALUE}; Path=/; Secure; SameSite=Lax")
        return response

    @app.get("/slow")
    async def slow(session: CurrentSession) -> dict[str, str | None]:
        assert pause is not None, "build_app(pause=...) for /slow"
        pause.entered.set()
        await asyncio.wait_for(pause.release.wait(), WAIT)
        return {"username": session.username if session is not None else None}

    @app.get("/{path:path}")
    def page(request: Request, path: str) -> JSONResponse:
        # A page a CDN may cache for a minute, unless ssrauth has cookies to set on it.
        user = request.user.display_name if request.user.is_authenticated else None
        return JSONResponse({"user": user, "path": path},
                            headers={"cache-control": "private, max-age=60"})

    return app


def build_starlette_app(manager: SessionManager) -> Starlette:
    """Plain Starlette, no FastAPI: ``request.user`` and ``@requires`` as Starlette documents."""

    async def whoami(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"authenticated": user.is_authenticated,
                             "user": user.display_name if user.is_authenticated else None,
                             "scopes": list(request.auth.scopes)})

    @requires("authenticated", status_code=401)
    async def private(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.user.display_name})

    async def socket(websocket: WebSocket) -> None:
        # No response headers on a websocket: the session is read, never written.
        await websocket.accept()
        user = websocket.user
        await websocket.send_json({"user": user.display_name if user.is_authenticated else None})
        await websocket.close()

    return Starlette(
        routes=[Route("/whoami", whoami), Route("/private", private),
                WebSocketRoute("/ws", socket)],
        middleware=[Middleware(SsrAuthMiddleware, manager=manager)],
    )


#: What a test browser sends: its jar's header (None), a snapshot, or several Cookie headers.
CookieHeader = str | bytes | list[str] | None


class _JarClient:
    """What every test browser shares: the jar is the only cookie store; a request sends what the
    jar sends for its path (or a given snapshot), and a response's Set-Cookie lines are applied
    at the request path, in order, as a browser does."""

    def __init__(self, host: str) -> None:
        self.jar = BrowserJar(host)

    @staticmethod
    def _no_cookies() -> http.cookiejar.CookieJar:
        """httpx's own cookie store must stay out of the way."""
        return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def cookie_header(self, path: str = "/") -> str:
        return self.jar.cookie_header(path)

    def _outgoing(self, path: str, cookie_header: CookieHeader) -> list[tuple[str, str | bytes]]:
        """The Cookie header(s) to send; a list sends several (HTTP/2 and 3 may split one)."""
        header = self.jar.cookie_header(path) if cookie_header is None else cookie_header
        if isinstance(header, list):
            return [("cookie", part) for part in header]
        return [("cookie", header)] if header else []

    def _received(self, response: httpx.Response, path: str) -> httpx.Response:
        self.jar.apply(set_cookies(response), request_path=path.partition("?")[0])
        return response

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.post("/signin", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response


class Browser(_JarClient):
    """One browser profile: a cookie jar with Chromium's identity rules in front of an ASGI app.

    Every response's Set-Cookie lines are applied at the request path, in order, as a browser
    does. ``cookie_header=`` sends a snapshot instead of the jar's current cookies: a request that
    left a tab before an earlier response's Set-Cookie arrived.
    """

    def __init__(self, app: ASGIApp, host: str = HOST) -> None:
        super().__init__(host)
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url=f"https://{host}", cookies=self._no_cookies())

    async def request(self, method: str, path: str, *, cookie_header: CookieHeader = None,
                      **kwargs: Any) -> httpx.Response:
        headers = self._outgoing(path, cookie_header)
        response = await self.client.request(method, path, headers=headers, **kwargs)
        return self._received(response, path)


class WsgiServer:
    """A WSGI app under werkzeug's threaded server on a free loopback port (one thread per
    request), until :meth:`close`."""

    def __init__(self, app: WSGIApplication) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="wsgi-app")
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT)


class WsgiBrowser(_JarClient):
    """The same browser in front of a WSGI app served by :class:`WsgiServer`: real HTTP, one
    server thread per request. Its methods are awaitable like :class:`Browser`'s and run each
    request in a worker thread, so ``asyncio.gather`` of twenty requests runs the WSGI app in
    twenty threads at once. The jar is shared by those threads (under a lock)."""

    def __init__(self, app: WSGIApplication, host: str = HOST) -> None:
        super().__init__(host)
        self.app = app
        self._lock = threading.Lock()
        self.server = WsgiServer(app)
        self.client = httpx.Client(base_url=self.server.url, headers={"host": host},
                                   cookies=self._no_cookies(), timeout=WAIT)

    def close(self) -> None:
        self.client.close()
        self.server.close()

    def request_blocking(self, method: str, path: str, *,
                         cookie_header: CookieHeader = None, **kwargs: Any
                         ) -> httpx.Response:
        with self._lock:
            headers = self._outgoing(path, cookie_header)
        response = self.client.request(method, path, headers=headers, **kwargs)
        with self._lock:
            return self._received(response, path)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        call = functools.partial(self.request_blocking, method, path, **kwargs)
        return await anyio.to_thread.run_sync(call)


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


@pytest.fixture
def app(manager: SessionManager) -> FastAPI:
    return build_app(manager)


@pytest.fixture
def browser(app: FastAPI) -> Browser:
    return Browser(app)


class Arrivals:
    """Counts requests that reached the application, from the event loop and from threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.add()
            await app(scope, receive, send)

        return counted

    def watch(self, manager: SessionManager) -> SessionManager:
        """Count the requests that reach ``manager`` (either face), from any adapter."""
        load, aload = manager.load, manager.aload

        def counted_load(*parts: str) -> RequestAuth:
            self.add()
            return load(*parts)

        async def counted_aload(*parts: str) -> RequestAuth:
            self.add()
            return await aload(*parts)

        manager.load, manager.aload = counted_load, counted_aload  # type: ignore[method-assign]
        return manager


# -- holding a refresh in flight ------------------------------------------------------------------


class RefreshGate:
    """Refresh calls wait here, on their way to the provider, until :meth:`release`.

    Only refreshes are held (sign-in, revocation and global sign-out pass), so a test can start
    a refresh, act while it is in flight, then let it complete against the real moto.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self.arrived = threading.Event()
        self.timed_out = False

    @staticmethod
    def holds(request: httpx.Request) -> bool:
        target = request.headers.get("x-amz-target", "")
        return target.endswith(".GetTokensFromRefreshToken") or (
            target.endswith(".InitiateAuth") and b"REFRESH_TOKEN_AUTH" in request.content
        )

    def release(self) -> None:
        self._open.set()

    def wait(self) -> None:
        self.arrived.set()
        if not self._open.wait(WAIT):
            self.timed_out = True  # the test asserts on this; the call then goes through

    async def await_open(self) -> None:
        self.arrived.set()
        deadline = time.monotonic() + WAIT
        while not self._open.is_set():
            if time.monotonic() > deadline:
                self.timed_out = True
                return
            await asyncio.sleep(0.005)


class _GatedTransport(httpx.BaseTransport):
    def __init__(self, gate: RefreshGate) -> None:
        self._gate = gate
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._gate.holds(request):
            self._gate.wait()
        return self._inner.handle_request(request)


class _AsyncGatedTransport(httpx.AsyncBaseTransport):
    def __init__(self, gate: RefreshGate) -> None:
        self._gate = gate
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._gate.holds(request):
            await self._gate.await_open()
        return await self._inner.handle_async_request(request)


def gated_manager(
    emulator: CognitoEmulator, clock: ManualClock, gate: RefreshGate, **coordinator: Any
) -> SessionManager:
    """A manager on the real emulator whose refresh calls pass through ``gate`` (both faces)."""
    config = emulator.config()
    provider = CognitoProvider(
        config,
        client=httpx.Client(transport=_GatedTransport(gate), timeout=config.timeout),
        async_client=httpx.AsyncClient(transport=_AsyncGatedTransport(gate),
                                       timeout=config.timeout),
    )
    return SessionManager(config, clock=clock, provider=provider,
                          coordinator=LocalCoordinator(clock=clock, **coordinator))


# -- a Cognito endpoint that fails like real ones do ----------------------------------------------


class FlakyCognito:
    """A loopback HTTP server in front of the emulator.

    Modes: ``up`` forwards every call to moto (counted there as usual); ``refused`` closes the
    listening socket (connection refused); ``timeout`` accepts and never answers in time;
    ``http500`` answers Cognito's JSON InternalErrorException; ``html500`` and ``html502`` answer a
    load balancer's HTML error page; ``throttled`` answers 400 TooManyRequestsException;
    ``error:<Name>`` answers 400 with the Cognito JSON error ``<Name>``.
    """

    MODES = ("up", "refused", "timeout", "http500", "html500", "html502", "throttled")

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.answered: list[str] = []  # the mode of every call this server answered
        self._wake = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FlakyCognito:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.answered.append(owner.mode)
                status, headers, payload = owner.answer(self.headers, body)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout mode): nothing to answer to

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._port = server.server_port
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                         name="flaky-cognito").start()
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: str) -> None:
        assert mode in self.MODES or mode.startswith("error:"), mode
        if mode == "refused":
            self.stop()
        elif self._server is None:
            self._wake.clear()
            self.start()  # same port again: the endpoint comes back where it was
        self.mode = mode

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        mode = self.mode
        json_type = {"content-type": "application/x-amz-json-1.1"}
        if mode == "timeout":
            self._wake.wait(WAIT)
            return 200, json_type, b"{}"
        if mode == "http500":
            return 500, {**json_type, "x-amzn-errortype": "InternalErrorException:"}, (
                b'{"__type":"InternalErrorException","message":"Internal server error"}')
        if mode == "html500":
            return 500, {"content-type": "text/html"}, b"<html><h1>500 Server Error</h1></html>"
        if mode == "html502":
            return 502, {"content-type": "text/html"}, b"<html><h1>502 Bad Gateway</h1></html>"
        if mode == "throttled":
            mode = "error:TooManyRequestsException"
        if mode.startswith("error:"):
            name = mode.partition(":")[2]
            payload = json.dumps({"__type": name, "message": f"{name} from the test"})
            return 400, {**json_type, "x-amzn-errortype": f"{name}:"}, payload.encode()
        return self._forward(headers, body)

    def _forward(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.upstream + "/", data=body, method="POST",
            headers={k: headers[k] for k in ("content-type", "x-amz-target") if headers[k]})
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, {"content-type": response.headers["content-type"]}, (
                    response.read())
        except urllib.error.HTTPError as error:  # moto's 4xx/5xx answers, relayed as they are
            kept = {k: v for k, v in error.headers.items()
                    if k.lower() in ("content-type", "x-amzn-errortype")}
            return error.code, kept, error.read()


@pytest.fixture
def flaky(emulator: CognitoEmulator) -> Iterator[FlakyCognito]:
    server = FlakyCognito(emulator.url).start()
    yield server
    server.stop()


def flaky_config(emulator: CognitoEmulator, flaky: FlakyCognito) -> CognitoConfig:
    """The emulator's configuration with the API behind ``flaky``; keys still come from moto
    (a JWKS outage is another story), and a short timeout keeps the hanging mode quick."""
    direct = emulator.config(timeout=1.5)
    return direct.with_changes(endpoint_url=flaky.url, jwks_url=direct.jwks_url)
