"""Test browsers: a jar with Chromium's cookie identity in front of an ASGI app (in process) or a
WSGI app (real HTTP on loopback)."""

from __future__ import annotations

import functools
import http.cookiejar
import threading
from typing import Any
from wsgiref.types import WSGIApplication

import anyio.to_thread
import httpx
from starlette.types import ASGIApp
from werkzeug.serving import make_server

from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar

from .cookies import set_cookies
from .waiting import WAIT

#: What a test browser sends: its jar's header (None), a snapshot, or several Cookie headers.
CookieHeader = str | bytes | list[str] | None


class JarClient:
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


class Browser(JarClient):
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


class WsgiBrowser(JarClient):
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
