"""One deployment's cookie names and token rules, built in one place from its config.

:class:`~ssrauth.SessionManager` and ``ssrauth audit`` both call :func:`scheme_of` (and
:func:`verification` for the signing keys), so the audit judges and heals a family with exactly
the keys and rules the configured server would use. The audit also meets families no config
names; :func:`family_scheme` gives those the rules their cookie prefix implies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._config.cognito import CognitoConfig
from .._config.oidc import OidcConfig
from .._providers.jwks import JwksLocator, JwksSource
from .clock import Clock
from .keys import OIDC_SESSION_FIELDS, PREFIX, AmplifyKeys
from .rules import CognitoRules, OidcRules, TokenRules
from .tokens import JwkSet, TokenVerifier

__all__ = ["CookieScheme", "family_scheme", "scheme_of", "verification"]


@dataclass(frozen=True, slots=True)
class CookieScheme:
    """The cookie family's names and the rules its tokens are read by."""

    keys: AmplifyKeys
    rules: TokenRules

    @property
    def is_oidc(self) -> bool:
        """An OpenID Connect family (the id token authenticates) rather than Amplify's."""
        return isinstance(self.rules, OidcRules)


def _cognito(client_id: str) -> CookieScheme:
    return CookieScheme(AmplifyKeys(client_id), CognitoRules(client_id))


def _oidc(cookie_client_id: str, client_id: str, prefix: str,
          audience: str | None = None) -> CookieScheme:
    # The same cookie family as Amplify's under our own prefix; the user is the sub.
    keys = AmplifyKeys(cookie_client_id, prefix=prefix, session_fields=OIDC_SESSION_FIELDS)
    return CookieScheme(keys, OidcRules(client_id, audience))


def scheme_of(config: CognitoConfig | OidcConfig) -> CookieScheme:
    """The keys and rules a server configured with ``config`` uses."""
    if isinstance(config, OidcConfig):
        return _oidc(config.cookie_client_id, config.client_id, config.cookie_prefix,
                     config.audience)
    return _cognito(config.client_id)


def family_scheme(prefix: str, client_id: str) -> CookieScheme:
    """The keys and rules of a family seen in a jar without a config: Amplify's prefix is a
    Cognito family, any other an ssrauth OpenID Connect one, whose id tokens must then name the
    cookie's client id segment as their audience (true unless the real id had dots)."""
    if prefix == PREFIX:
        return _cognito(client_id)
    return _oidc(client_id, client_id, prefix)


def verification(
    config: CognitoConfig | OidcConfig,
    scheme: CookieScheme,
    discovery: JwksLocator | None,
    *,
    clock: Clock,
    on_fetched: Callable[[JwkSet], None] | None = None,
) -> tuple[TokenVerifier, JwksSource]:
    """The verifier and the key source of ``config``. The keys are at the configured JWKS URL
    or, for an OpenID Connect issuer without one, where ``discovery`` (its provider) finds
    them; no fetch happens here."""
    location: str | JwksLocator | None = config.jwks_url or discovery
    if location is None:
        raise ValueError("an OpenID Connect config without jwks_url needs its provider")
    source = JwksSource(location, clock=clock, timeout=config.timeout, on_fetched=on_fetched,
                        accepted=scheme.rules.algorithms)
    verifier = TokenVerifier(issuer=config.issuer, client_id=config.client_id,
                             rules=scheme.rules)
    return verifier, source
