"""Django adapter: a middleware for Django's WSGI and ASGI handlers, sync and async views.

It translates only: ``request.META`` in, :class:`~ssrauth.RequestAuth` onto ``request.ssrauth``,
the core's headers onto the response. Every decision is made in the core.

Settings: ``SSRAUTH_MANAGER``, the dotted path of your :class:`~ssrauth.SessionManager` (one per
process; it holds the refresh coordinator). Put the middleware first in ``MIDDLEWARE``: it then
sees every cookie the rest of the stack sets, and a response it finishes is not touched after it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Container, Iterator
from http.cookies import Morsel
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.module_loading import import_string

from . import Session
from ._adapters.environ import (
    cookie_header,
    environ_path,
    host,
    joined_cookie_lines,
    url_path,
)
from ._adapters.origin import watch_environ
from ._adapters.respond import aadded_headers, added_headers, refusal
from ._manager.manager import RequestAuth, SessionManager

__all__ = ["SsrAuthMiddleware", "close_manager", "current_session", "get_auth", "require_user"]

View = TypeVar("View", bound=Callable[..., Any])


class SsrAuthMiddleware:
    """Load the session before the view; add the cookie plan to the response.

    Runs on either side of Django's sync/async boundary without an adapter hop: blocking
    :meth:`SessionManager.load` under WSGI, :meth:`SessionManager.aload` under ASGI.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.manager = configured_manager()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if request.scheme == "http":  # plain http only (SECURE_PROXY_SSL_HEADER honoured)
            watch_environ(self.manager, request.META)
        if self.is_async:
            return self._acall(request)
        auth = self.manager.load(*_request_parts(request))
        request.ssrauth = auth
        response = self.get_response(request)
        _put_headers(response, added_headers(auth, _app_set_cookies(response)),
                     ascii_only=isinstance(request, ASGIRequest))
        return response

    async def _acall(self, request: HttpRequest) -> Any:
        auth = await self.manager.aload(*_request_parts(request))
        request.ssrauth = auth
        response = await self.get_response(request)
        _put_headers(response, await aadded_headers(auth, _app_set_cookies(response)),
                     ascii_only=isinstance(request, ASGIRequest))
        return response


def configured_manager() -> SessionManager:
    """The :class:`SessionManager` named by ``settings.SSRAUTH_MANAGER``."""
    path = getattr(settings, "SSRAUTH_MANAGER", None)
    if not path:
        raise ImproperlyConfigured(
            "SSRAUTH_MANAGER must name your SessionManager, e.g. 'myproject.auth.manager'")
    manager = import_string(path)
    if not isinstance(manager, SessionManager):
        raise ImproperlyConfigured(f"SSRAUTH_MANAGER {path!r} is not a SessionManager")
    return manager


def close_manager() -> None:
    """Close the configured manager (its HTTP clients and coordinator connections).

    The manager is the process's, not a request's: closing it on ``request_finished`` would
    throw away every connection after each request. Django sends no signal when a process
    stops serving, so call this from the server's exit hook (gunicorn's ``worker_exit``,
    a uvicorn/ASGI lifespan handler, the end of a test)."""
    configured_manager().close()


def get_auth(request: HttpRequest) -> RequestAuth:
    """The request's :class:`RequestAuth` (for sign-in and sign-out in a view)."""
    auth = getattr(request, "ssrauth", None)
    if not isinstance(auth, RequestAuth):
        raise RuntimeError("ssrauth.django.SsrAuthMiddleware is not in MIDDLEWARE")
    return auth


def current_session(request: HttpRequest) -> Session | None:
    return get_auth(request).session


def require_user(view: View) -> View:
    """Answer 401 for an anonymous request, 503 with ``Retry-After`` when the provider could not
    be reached (not a 401: that would send the browser to sign in for an outage), with the body
    ``{"detail": ...}``. Sync and async views alike."""

    def refused(request: HttpRequest) -> JsonResponse | None:
        answer = refusal(get_auth(request))
        if answer is None:
            return None
        return JsonResponse({"detail": answer.detail}, status=answer.status,
                            headers=answer.headers)

    if iscoroutinefunction(view):
        async_view = cast(Callable[..., Awaitable[Any]], view)

        @functools.wraps(view)
        async def wrapped_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer = refused(request)
            return answer if answer is not None else await async_view(request, *args, **kwargs)

        return cast(View, wrapped_async)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        answer = refused(request)
        return answer if answer is not None else view(request, *args, **kwargs)

    return cast(View, wrapped)


def _request_parts(request: HttpRequest) -> tuple[str, str, str]:
    """Cookie header, path (``request.path`` includes the script prefix), host.

    Under Django's ASGI handler the request keeps its ASGI scope: the Cookie lines are read
    from it and joined with ``"; "`` (RFC 9113 §8.2.3), since ``request.META`` joins repeated
    headers with ``,``, which ssrauth reads as part of a value (``_core.cookies.cookie_pieces``);
    the path is the scope's ``raw_path`` as the browser sent it.
    """
    meta = request.META
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict) or "headers" not in scope:
        # WSGI: META is the environ, its path the raw bytes as latin-1 (request.path would be
        # decoded, and broken UTF-8 re-escaped by Django, then escaped again by url_path).
        return cookie_header(meta), environ_path(meta), host(meta)
    header = joined_cookie_lines(value for name, value in scope["headers"] if name == b"cookie")
    raw_path = scope.get("raw_path")
    path = (raw_path.decode("latin-1") if isinstance(raw_path, bytes) and raw_path
            else url_path(request.path.encode("utf-8")))
    return header, path, host(meta)


class _SetCookieLine(Morsel[str]):
    """One Set-Cookie line rendered by the core, written verbatim.

    Django has no multi-valued headers: ``response.headers`` keeps one value per name, and
    ``response.cookies`` (a ``SimpleCookie``, a dict by cookie name) keeps one per name, so the
    core's deletions of one name on several paths and domains would collapse into one. Both of
    Django's handlers write one Set-Cookie header per value of ``response.cookies``, with
    ``morsel.output(header="")``: a morsel that outputs its line as is, stored under a key of its
    own, gets every line to the browser.
    """

    def __init__(self, line: str) -> None:
        super().__init__()
        name, _, rest = line.partition("=")
        value = rest.partition(";")[0]
        # Not Morsel.set: it refuses names a browser accepts, such as a raw "@" spelling the
        # core deletes. name and value are only for code that reads response.cookies.
        self.__setstate__(  # type: ignore[attr-defined] # Morsel's pickling hook, untyped
            {"key": name, "value": value, "coded_value": value})
        self.line = line

    def OutputString(self, attrs: Container[str] | None = None) -> str:  # noqa: N802, ARG002
        return self.line

    def __reduce__(self) -> tuple[type[_SetCookieLine], tuple[str]]:
        """Rebuilt from its line (Django's cache middleware pickles responses)."""
        return (_SetCookieLine, (self.line,))


def _app_set_cookies(response: HttpResponseBase) -> Iterator[tuple[str, str]]:
    """The application's Set-Cookie lines: its cookies, and a raw header if it set one."""
    for morsel in response.cookies.values():
        yield "Set-Cookie", morsel.OutputString()
    if "Set-Cookie" in response.headers:
        yield "Set-Cookie", response.headers["Set-Cookie"]


def _put_headers(response: HttpResponseBase, added: list[tuple[str, str]], *,
                 ascii_only: bool) -> None:
    """``added`` on ``response``. Under the ASGI handler (``ascii_only``) a Set-Cookie line
    beyond ASCII is left out: Django's ``ASGIHandler.send_response`` encodes each cookie line
    as ASCII and would end the response with ``UnicodeEncodeError`` (found by ``make fuzz``).
    Such a line only deletes a copy whose name the browser sent with bytes beyond ASCII (a raw
    spelling of a user name, junk); that copy stays. The WSGI handler sends it (latin-1, PEP
    3333), as every other adapter does."""
    cookies = response.cookies
    for name, value in added:
        if name.lower() != "set-cookie":
            response.headers[name] = value
            continue
        if ascii_only and not value.isascii():
            continue
        line = _SetCookieLine(value)
        # A write takes the name as its key (code reading response.cookies[name], and Django's
        # test client, which keeps one cookie per name, see the new value) unless the app has a
        # cookie of that name at another path; every other line is keyed by itself, unique.
        written = bool(line.value) and line.key not in cookies
        cookies[line.key if written else value] = line
