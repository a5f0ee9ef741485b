"""ssrauth: Amplify-compatible Cognito (and any OpenID Connect provider) sessions in cookies
for server-rendered Python apps.

Refreshes once however many requests arrive together, and never leaves a duplicate, stale or
zombie auth cookie behind. Import everything from here; framework adapters live in
``ssrauth.starlette``, ``ssrauth.fastapi``, ``ssrauth.wsgi``, ``ssrauth.flask`` and
``ssrauth.django``. A coordination store of your own (``Store``, the operations it answers,
``SharedCoordinator`` to run over it) needs nothing else: docs/extending.md.
"""

from typing import TYPE_CHECKING, Any

from ._config.cognito import CognitoConfig
from ._config.oidc import OidcConfig
from ._coordination.coordinator import (
    LocalCoordinator,
    RefreshCoordinator,
    Refreshed,
    RefreshSource,
)
from ._coordination.shared import SharedCoordinator, SharedOptions
from ._coordination.sqlite import SqliteCoordinator, SqliteStore
from ._coordination.store import (
    Answer,
    Claim,
    Claimed,
    IsMarked,
    Mark,
    Op,
    Release,
    Renew,
    Revocations,
    Revoke,
    RevokedSince,
    Settle,
    Store,
)
from ._coordination.url import coordinator_from_url
from ._core.backoff import Backoff
from ._core.clock import Clock, ManualClock, SystemClock
from ._core.cookies import (
    CookiePolicy,
    RequestCookie,
    SetCookie,
    parse_cookie_header,
    render_set_cookie,
)
from ._core.errors import (
    ConfigError,
    ExpiredToken,
    InvalidToken,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    SignedOut,
    SignInChallenge,
    SignInError,
    SourceError,
    SsrAuthError,
    StoreUnavailable,
    UnknownSigningKey,
)
from ._core.events import Event, Events
from ._core.keys import AmplifyKeys
from ._core.session import Decision, Outcome, Session
from ._core.tokens import TokenSet, VerifiedToken
from ._manager.manager import RequestAuth, SessionManager
from ._providers.checker import TokenChecker
from ._providers.cognito import CognitoProvider
from ._providers.jwks import JwksLocator, JwksSource, KeyFetcher, StaticKeys
from ._providers.oidc import OidcProvider
from ._providers.provider import (
    GlobalSignOut,
    PasswordSignIn,
    Provider,
    RedirectSignIn,
    SignInResult,
)

# The one place the version is written: pyproject.toml reads it from here (setuptools' dynamic
# version, read from the source without importing it), so the package and its metadata agree.
__version__ = "0.1.0"

__all__ = [
    "AmplifyKeys",
    "Answer",
    "Backoff",
    "Claim",
    "Claimed",
    "Clock",
    "CognitoConfig",
    "CognitoProvider",
    "ConfigError",
    "CookiePolicy",
    "Decision",
    "Event",
    "Events",
    "ExpiredToken",
    "GlobalSignOut",
    "InvalidToken",
    "IsMarked",
    "JwksLocator",
    "JwksSource",
    "KeyFetcher",
    "LocalCoordinator",
    "ManualClock",
    "Mark",
    "OidcConfig",
    "OidcProvider",
    "Op",
    "Outcome",
    "PasswordSignIn",
    "Provider",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RedirectSignIn",
    "RedisCoordinator",
    "RefreshCoordinator",
    "RefreshSource",
    "Refreshed",
    "Release",
    "Renew",
    "RequestAuth",
    "RequestCookie",
    "Revocations",
    "Revoke",
    "RevokedSince",
    "Session",
    "SessionManager",
    "SetCookie",
    "Settle",
    "SharedCoordinator",
    "SharedOptions",
    "SignInChallenge",
    "SignInError",
    "SignInResult",
    "SignedOut",
    "SourceError",
    "SqliteCoordinator",
    "SqliteStore",
    "SsrAuthError",
    "StaticKeys",
    "Store",
    "StoreUnavailable",
    "SystemClock",
    "TokenChecker",
    "TokenSet",
    "UnknownSigningKey",
    "VerifiedToken",
    "coordinator_from_url",
    "parse_cookie_header",
    "render_set_cookie",
]


if TYPE_CHECKING:
    from ._coordination.redis import RedisCoordinator


def __getattr__(name: str) -> Any:
    """``RedisCoordinator`` needs the optional ``redis`` package: imported on first use only."""
    if name == "RedisCoordinator":
        from ._coordination.redis import RedisCoordinator

        return RedisCoordinator
    raise AttributeError(f"module 'ssrauth' has no attribute {name!r}")
