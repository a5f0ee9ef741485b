"""One deployment's cookie names and token rules, built in one place from its config.

:class:`~ssrauth.SessionManager` and ``ssrauth audit`` both get theirs from
``ssrauth._config.scheme.scheme_of`` (and ``ssrauth._providers.jwks.verification`` for the
signing keys), so the audit judges and heals a family with exactly
the keys and rules the configured server would use. The audit also meets families no config
names; :func:`family_scheme` gives those the rules their cookie prefix implies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import OIDC_SESSION_FIELDS, PREFIX, AmplifyKeys
from .rules import CognitoRules, OidcRules, TokenRules

__all__ = ["CookieScheme", "cognito_scheme", "family_scheme", "oidc_scheme"]


@dataclass(frozen=True, slots=True)
class CookieScheme:
    """The cookie family's names and the rules its tokens are read by."""

    keys: AmplifyKeys
    rules: TokenRules

    @property
    def is_oidc(self) -> bool:
        """An OpenID Connect family (the id token authenticates) rather than Amplify's."""
        return isinstance(self.rules, OidcRules)


def cognito_scheme(client_id: str) -> CookieScheme:
    return CookieScheme(AmplifyKeys(client_id), CognitoRules(client_id))


def oidc_scheme(cookie_client_id: str, client_id: str, prefix: str,
          audience: str | None = None) -> CookieScheme:
    # The same cookie family as Amplify's under our own prefix; the user is the sub.
    keys = AmplifyKeys(cookie_client_id, prefix=prefix, session_fields=OIDC_SESSION_FIELDS)
    return CookieScheme(keys, OidcRules(client_id, audience))


def family_scheme(prefix: str, client_id: str) -> CookieScheme:
    """The keys and rules of a family seen in a jar without a config: Amplify's prefix is a
    Cognito family, any other an ssrauth OpenID Connect one, whose id tokens must then name the
    cookie's client id segment as their audience (true unless the real id had dots)."""
    if prefix == PREFIX:
        return cognito_scheme(client_id)
    return oidc_scheme(client_id, client_id, prefix)
