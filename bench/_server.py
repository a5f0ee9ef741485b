"""The apps under test, and the child process that serves one of them with uvicorn.

Three servers share one trivial Starlette app (``GET /`` answers ``ok``) so that the only
difference between them is what runs before the handler:

* ``bare``: nothing; the baseline.
* ``ssrauth``: ``SsrAuthMiddleware`` with a manager on the emulator, JWKS fetched at start-up.
* ``naive``: one PyJWT RS256 verification of the access-token cookie per request, the way an
  app without a verification cache would do it. A reference point that shows how much a
  single RSA check costs on this machine; not a target.

Each runs on one of two server stacks (``STACKS``): uvicorn's pure-Python h11 on asyncio, or
httptools on uvloop (what ``uvicorn[standard]`` picks), and the ssrauth app with one of the
coordinators (``local``, or a ``sqlite://``/``redis://`` URL, through ``SSRAUTH_COORDINATOR``).

Usage: ``python -m bench._server MODE STACK COORDINATOR CONFIG_JSON`` prints
``{"port": ...}`` once it listens.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ssrauth import CognitoConfig, SessionManager
from ssrauth.starlette import SsrAuthMiddleware

__all__ = ["MODES", "STACKS", "Stack", "build_app", "config_from_json"]

MODES = ("bare", "ssrauth", "naive")


@dataclass(frozen=True, slots=True)
class Stack:
    """A uvicorn server stack: its HTTP parser and event loop."""

    key: str
    http: str
    loop: str
    label: str


#: Both stacks a production deployment meets: uvicorn alone (pure-Python h11 on asyncio) and
#: ``uvicorn[standard]`` (httptools' C parser on uvloop), where the same µs weigh more.
STACKS = {
    "h11": Stack("h11", "h11", "asyncio", "h11 + asyncio"),
    "httptools": Stack("httptools", "httptools", "uvloop", "httptools + uvloop"),
}


async def index(request: Request) -> PlainTextResponse:  # noqa: ARG001 - Starlette's signature
    return PlainTextResponse("ok")


async def whoami(request: Request) -> PlainTextResponse:
    """Used once per server before measuring, to prove the cookies really authenticate."""
    user = request.scope.get("user")
    name = user.display_name if user is not None and user.is_authenticated else "anonymous"
    return PlainTextResponse(name)


#: ``/pages/<n>`` serves page-view traffic: a new path per request, as a browser moving through a
#: site sends (see ``bench._load.PAGES_PATH``).
ROUTES = [Route("/", index), Route("/whoami", whoami), Route("/pages/{n}", index)]


class NaiveJwtMiddleware:
    """Verify the access-token cookie with PyJWT on every request (no cache): the reference."""

    def __init__(self, app: ASGIApp, config: CognitoConfig, keys: dict[str, Any]) -> None:
        self.app = app
        self.issuer = config.issuer
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["user"] = self._user(scope)
        await self.app(scope, receive, send)

    def _user(self, scope: Scope) -> SimpleUser | None:
        header = b"; ".join(v for k, v in scope["headers"] if k == b"cookie").decode("latin-1")
        for pair in header.split(";"):
            name, _, value = pair.strip().partition("=")
            if not name.endswith(".accessToken"):
                continue
            try:
                kid = str(jwt.get_unverified_header(value).get("kid"))
                claims = jwt.decode(value, self.keys[kid], algorithms=["RS256"],
                                    issuer=self.issuer)
            except (jwt.PyJWTError, KeyError):
                return None
            return SimpleUser(str(claims.get("username", "")))
        return None


def config_from_json(text: str) -> CognitoConfig:
    return CognitoConfig(**json.loads(text))


def build_app(mode: str, config: CognitoConfig) -> ASGIApp:
    """The app for ``mode``; anything it needs from the emulator is fetched here, once."""
    if mode == "bare":
        return Starlette(routes=ROUTES)
    if mode == "ssrauth":
        manager = SessionManager(config)
        manager.jwks.fetch()  # the one JWKS fetch: warm-up, not part of any measured request
        return Starlette(routes=ROUTES, middleware=[Middleware(SsrAuthMiddleware,
                                                               manager=manager)])
    if mode == "naive":
        document = httpx.get(config.jwks_url, timeout=config.timeout).json()
        keys = {k["kid"]: jwt.PyJWK(k, algorithm="RS256").key for k in document["keys"]}
        return Starlette(routes=ROUTES, middleware=[Middleware(NaiveJwtMiddleware, config=config,
                                                               keys=keys)])
    raise ValueError(f"unknown mode {mode!r}")


def main(argv: list[str]) -> int:
    mode, stack_key, coordinator, config_json = argv
    stack = STACKS[stack_key]
    # The manager reads its coordinator from the documented environment variable.
    os.environ["SSRAUTH_COORDINATOR"] = coordinator
    app = build_app(mode, config_from_json(config_json))
    # What `uvicorn app:app --no-access-log --http H --loop L` does, on a socket we bind so we
    # can report its port.
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off",
                            http=stack.http, loop=stack.loop)
    config.load()
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says it is TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(json.dumps({
        "port": sock.getsockname()[1],
        "http": config.http_protocol_class.__name__,  # H11Protocol or HttpToolsProtocol
        "loop": stack.loop,
    }), flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
