"""The applications under test: a FastAPI site using every public dependency, plain Starlette,
and a counter of the requests that reach them."""

from __future__ import annotations

import asyncio
import threading

from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ssrauth import ProviderRejected, ProviderUnavailable, RequestAuth, SessionManager
from ssrauth.fastapi import Auth, CurrentSession, RequireUser
from ssrauth.starlette import SsrAuthMiddleware

from .cookies import cookie_name
from .waiting import WAIT

#: A value the test app writes itself, to tell its Set-Cookie from ssrauth's.
APP_VALUE = "written-by-the-app"


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
