"""WSGI adapter: a plain WSGI middleware (Flask, Django's WSGI handler, or any WSGI app).

It translates only: the environ in, :class:`~ssrauth.RequestAuth` into ``environ["ssrauth"]``,
the core's headers merged into the application's at ``start_response``. Every decision is made
in the core.

The middleware touches nothing but ``start_response``, so the application's iterable goes back
to the server as it came (PEP 3333): its ``close()``, ``wsgi.file_wrapper`` and streaming are the
server's business, as without ssrauth. Headers are decided when the application starts its
response, so sign-in and sign-out must happen before that (as with any header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._adapters.environ import cookie_header, environ_path, host
from ._adapters.origin import watch_environ
from ._adapters.respond import merged_headers
from ._manager.manager import RequestAuth, SessionManager

__all__ = ["ENVIRON_KEY", "SsrAuthWSGIMiddleware", "get_auth"]

ENVIRON_KEY = "ssrauth"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class SsrAuthWSGIMiddleware:
    """Load the session before the app runs; add the cookie plan to the response."""

    def __init__(self, app: WSGIApplication, manager: SessionManager) -> None:
        self.app = app
        self.manager = manager

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("wsgi.url_scheme") == "http":  # plain http only: Secure cookies dropped?
            watch_environ(self.manager, environ)
        auth = self.manager.load(*request_parts(environ))
        environ[ENVIRON_KEY] = auth

        def start_with_cookies(
            status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            # Called again with exc_info when the app replaces its response by an error page
            # before the headers went out: that page gets the cookies too (a refresh's result
            # must reach the browser whatever the page). Once they went out, the server raises.
            merged = merged_headers(auth, headers)
            return start_response(status, headers if merged is None else merged, exc_info)

        return self.app(environ, start_with_cookies)


def get_auth(environ: Mapping[str, Any]) -> RequestAuth:
    """The request's :class:`RequestAuth` (for sign-in and sign-out in a handler)."""
    auth = environ.get(ENVIRON_KEY)
    if not isinstance(auth, RequestAuth):
        raise RuntimeError("SsrAuthWSGIMiddleware is not installed on this application")
    return auth


def request_parts(environ: Mapping[str, Any]) -> tuple[str, str, str]:
    """Cookie header, path, host. The path is the one the browser sees: ``SCRIPT_NAME`` (where
    the app is mounted) and ``PATH_INFO``, both latin-1 text for the raw bytes (PEP 3333)."""
    return cookie_header(environ), environ_path(environ), host(environ)
