"""ssrauth: Amplify-compatible Cognito sessions in cookies for server-rendered Python apps.

Refreshes once however many requests arrive together, and never leaves a duplicate, stale or
zombie auth cookie behind. Import everything from here; framework adapters live in
``ssrauth.starlette`` and ``ssrauth.fastapi``.
"""

from ._clock import Clock, ManualClock, SystemClock
from ._cognito import CognitoProvider, SignInResult
from ._config import CognitoConfig
from ._cookies import (
    CookiePolicy,
    RequestCookie,
    SetCookie,
    parse_cookie_header,
    render_set_cookie,
)
from ._coordinator import LocalCoordinator, RefreshCoordinator, Refreshed, RefreshSource
from ._errors import (
    ConfigError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SignInChallenge,
    SsrAuthError,
)
from ._events import Event, Events
from ._keys import AmplifyKeys
from ._manager import RequestAuth, SessionManager
from ._session import Session
from ._tokens import TokenSet, VerifiedToken

__all__ = [
    "AmplifyKeys",
    "Clock",
    "CognitoConfig",
    "CognitoProvider",
    "ConfigError",
    "CookiePolicy",
    "Event",
    "Events",
    "LocalCoordinator",
    "ManualClock",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "RefreshCoordinator",
    "RefreshSource",
    "Refreshed",
    "RequestAuth",
    "RequestCookie",
    "Session",
    "SessionManager",
    "SetCookie",
    "SignInChallenge",
    "SignInResult",
    "SsrAuthError",
    "SystemClock",
    "TokenSet",
    "VerifiedToken",
    "parse_cookie_header",
    "render_set_cookie",
]
