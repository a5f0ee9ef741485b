"""FastAPI dependencies on top of :class:`ssrauth.starlette.SsrAuthMiddleware`.

``CurrentSession`` (``Session | None``), ``RequireUser`` (401 when anonymous, 503 with
``Retry-After`` when the provider could not be reached to refresh) and ``Auth`` (the request's
:class:`~ssrauth.RequestAuth`, for sign-in and sign-out).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from . import Session
from ._adapters.respond import refusal
from ._manager.manager import RequestAuth
from .starlette import get_auth

__all__ = ["Auth", "CurrentSession", "RequireUser", "current_session", "require_user"]


def request_auth(request: Request) -> RequestAuth:
    return get_auth(request)


def current_session(request: Request) -> Session | None:
    return get_auth(request).session


def require_user(request: Request) -> Session:
    auth = get_auth(request)
    refused = refusal(auth)
    if refused is not None:
        # 503 when the user may well be signed in but we could not ask: a 401 would send the
        # browser to a sign-in page for an outage.
        raise HTTPException(refused.status, detail=refused.detail, headers=refused.headers)
    assert auth.session is not None
    return auth.session


Auth = Annotated[RequestAuth, Depends(request_auth)]
CurrentSession = Annotated[Session | None, Depends(current_session)]
RequireUser = Annotated[Session, Depends(require_user)]
