"""ssrauth: Amplify-compatible Cognito (and any OpenID Connect provider) sessions in cookies
for server-rendered Python apps.

Refreshes once however many requests arrive together, and never leaves a duplicate, stale or
zombie auth cookie behind. Import everything from here; framework adapters live in
``ssrauth.starlette``, ``ssrauth.fastapi``, ``ssrauth.wsgi``, ``ssrauth.flask`` and
``ssrauth.django``.
"""

from typing import TYPE_CHECKING, Any

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
from ._coordinator_url import coordinator_from_url
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
from ._oidc import OidcProvider
from ._oidc_config import OidcConfig
from ._session import Session
from ._shared import SharedCoordinator
from ._signin_state import SignInError
from ._sqlite import SqliteCoordinator
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
    "OidcConfig",
    "OidcProvider",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "RedisCoordinator",
    "RefreshCoordinator",
    "RefreshSource",
    "Refreshed",
    "RequestAuth",
    "RequestCookie",
    "Session",
    "SessionManager",
    "SetCookie",
    "SharedCoordinator",
    "SignInChallenge",
    "SignInError",
    "SignInResult",
    "SqliteCoordinator",
    "SsrAuthError",
    "SystemClock",
    "TokenSet",
    "VerifiedToken",
    "coordinator_from_url",
    "parse_cookie_header",
    "render_set_cookie",
]


if TYPE_CHECKING:
    from ._redis import RedisCoordinator


def __getattr__(name: str) -> Any:
    """``RedisCoordinator`` needs the optional ``redis`` package: imported on first use only."""
    if name == "RedisCoordinator":
        from ._redis import RedisCoordinator

        return RedisCoordinator
    raise AttributeError(f"module 'ssrauth' has no attribute {name!r}")
