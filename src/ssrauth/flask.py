"""Flask adapter: :class:`SsrAuth` installs :class:`~ssrauth.wsgi.SsrAuthWSGIMiddleware` around
the app's WSGI callable, so Flask and every other WSGI app share one code path.

``get_auth()`` (the request's :class:`~ssrauth.RequestAuth`, for sign-in and sign-out),
``current_session()`` (``Session | None``) and ``@require_user`` (401 when anonymous, 503 with
``Retry-After`` when the provider could not be reached to refresh), as in ``ssrauth.fastapi``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from werkzeug.exceptions import ServiceUnavailable, Unauthorized

from . import Session, wsgi
from ._adapters.respond import refusal
from ._manager.manager import RequestAuth, SessionManager

__all__ = ["SsrAuth", "current_session", "get_auth", "require_user"]

View = TypeVar("View", bound=Callable[..., Any])


class SsrAuth:
    """The Flask extension: ``SsrAuth(app, manager)``, or ``SsrAuth(manager=...)`` and later
    ``init_app(app)`` for an application factory."""

    def __init__(self, app: Flask | None = None, manager: SessionManager | None = None) -> None:
        self.manager = manager
        self._installed: list[SessionManager] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, manager: SessionManager | None = None) -> None:
        manager = manager or self.manager
        if manager is None:
            raise TypeError("SsrAuth needs a SessionManager: SsrAuth(app, manager=...)")
        app.extensions["ssrauth"] = manager
        if manager not in self._installed:
            self._installed.append(manager)
        # Outside Flask's own machinery, so every response (error pages, and responses of
        # before_request handlers) gets the cookie plan.
        app.wsgi_app = wsgi.SsrAuthWSGIMiddleware(app.wsgi_app, manager)  # type: ignore[method-assign]

    def close(self) -> None:
        """Close the managers this extension installed (HTTP clients, coordinator connections).

        Call it when the process stops serving (a gunicorn ``worker_exit`` hook, the end of a
        test), not per request: Flask's ``teardown_appcontext`` runs after every request, and
        the manager's clients and connections are the process's, reused by every request.
        """
        for manager in self._installed:
            manager.close()


def get_auth() -> RequestAuth:
    """The current request's :class:`RequestAuth`."""
    return wsgi.get_auth(request.environ)


def current_session() -> Session | None:
    return get_auth().session


def require_user(view: View) -> View:
    """Answer 401 for an anonymous request, 503 with ``Retry-After`` when the provider could not
    be reached (not a 401: that would send the browser to sign in for an outage).

    Raised as werkzeug's ``Unauthorized`` and ``ServiceUnavailable``, so ``@app.errorhandler``
    can turn a 401 into a redirect to the sign-in page. Sync and async views alike.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refused = refusal(get_auth())
        if refused is not None and refused.status == ServiceUnavailable.code:
            raise ServiceUnavailable(refused.detail, retry_after=refused.retry_after)
        if refused is not None:
            raise Unauthorized(refused.detail)
        return current_app.ensure_sync(view)(*args, **kwargs)

    return cast(View, wrapped)
