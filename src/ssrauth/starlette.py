"""ASGI adapter: a plain ASGI middleware (Starlette, FastAPI, or any ASGI app).

It translates only: headers in, :class:`~ssrauth.RequestAuth` onto the scope, Set-Cookie out.
Every decision is made in the core. Follows Starlette's ``AuthenticationMiddleware`` convention,
so ``request.user.is_authenticated`` and ``@requires("authenticated")`` work as usual.
"""

from __future__ import annotations

import logging

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import Session
from ._adapters.environ import joined_cookie_lines, url_path
from ._adapters.origin import watch_asgi
from ._adapters.respond import amerged_headers, nothing_to_add
from ._manager.manager import RequestAuth, SessionManager

__all__ = ["SessionUser", "SsrAuthMiddleware", "get_auth"]

logger = logging.getLogger("ssrauth")

SCOPE_KEY = "ssrauth"


class SessionUser(BaseUser):
    """``request.user`` for a signed-in request."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.session.username

    @property
    def identity(self) -> str:
        return self.session.sub


class SsrAuthMiddleware:
    """Load the session before the app runs; add the cookie plan to the response.

    On ASGI lifespan shutdown it closes the manager (its HTTP clients, on the loop that served
    them, and the coordinator's connections) once the app has finished its own shutdown; pass
    ``close_on_shutdown=False`` when the manager outlives the app (you close it yourself).
    """

    def __init__(self, app: ASGIApp, manager: SessionManager, *,
                 close_on_shutdown: bool = True) -> None:
        self.app = app
        self.manager = manager
        self.close_on_shutdown = close_on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":  # first: every request of the app comes this way
            cookie_header, path, host = _request_parts(scope)
            if scope.get("scheme", "http") == "http":  # plain http only: Secure cookies dropped?
                watch_asgi(self.manager, scope, host)
            _attach(scope, await self.manager.aload(cookie_header, path, host))

            async def send_with_cookies(message: Message) -> None:
                # Cheap when nothing is added (nearly every response): one comparison on the
                # body messages, one check on the start; the headers are left unread.
                if message["type"] == "http.response.start":
                    auth = scope[SCOPE_KEY]
                    if not nothing_to_add(auth):
                        await _add_cookie_headers(message, auth)
                await send(message)

            await self.app(scope, receive, send_with_cookies)
        elif kind == "websocket":
            _attach(scope, await self.manager.aload(*_request_parts(scope)))
            await self.app(scope, receive, send)  # no response headers to add on a websocket
        elif kind == "lifespan" and self.close_on_shutdown:
            await self.app(scope, receive, self._closing_at_shutdown(send))
        else:
            await self.app(scope, receive, send)

    def _closing_at_shutdown(self, send: Send) -> Send:
        """The app's lifespan ``send``: the manager closes before the server hears that the
        shutdown is over (after it the server may close the loop the clients belong to)."""

        async def send_after_closing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.manager.aclose()
            await send(message)

        return send_after_closing


def get_auth(connection: HTTPConnection) -> RequestAuth:
    """The request's :class:`RequestAuth` (for sign-in and sign-out in a handler)."""
    auth = connection.scope.get(SCOPE_KEY)
    if not isinstance(auth, RequestAuth):
        raise RuntimeError("SsrAuthMiddleware is not installed on this application")
    return auth


def _request_parts(scope: Scope) -> tuple[str, str, str]:
    cookies: list[bytes] = []
    host = ""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookies.append(value)
        elif name == b"host":
            host = value.decode("latin-1")
    if not host and scope.get("server"):
        host = str(scope["server"][0])
    # Browsers path-match cookies against the path as sent, percent-escapes and all.
    raw_path = scope.get("raw_path")
    # ``raw_path`` is optional in the ASGI spec; without it, escape the decoded path back as a
    # browser sends it (``/café`` → ``/caf%C3%A9``).
    path = (raw_path.decode("latin-1") if raw_path
            else url_path(str(scope.get("path", "/")).encode("utf-8", "surrogatepass")))
    return joined_cookie_lines(cookies), path, host


def _attach(scope: Scope, auth: RequestAuth) -> None:
    scope[SCOPE_KEY] = auth
    session = auth.session
    if session is not None:
        scope["user"] = SessionUser(session)
        scope["auth"] = AuthCredentials(["authenticated"])
    else:
        scope["user"] = UnauthenticatedUser()
        scope["auth"] = AuthCredentials()


async def _add_cookie_headers(message: Message, auth: RequestAuth) -> None:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
    merged = await amerged_headers(auth, headers)
    if merged is not None:
        message["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                              for k, v in merged]
