"""What the session manager needs of an identity provider: :class:`Provider`.

Every provider refreshes and revokes; the rest are capabilities a provider has or has not, read
as attributes (``None``: not offered), so the manager never asks a provider what it cannot do
and no provider carries stubs that raise:

- ``password_sign_in`` (:class:`PasswordSignIn`): the app posts a user name and password
  (Cognito ``USER_PASSWORD_AUTH``);
- ``redirect_sign_in`` (:class:`RedirectSignIn`): the browser signs in at the provider and comes
  back with a code (OpenID Connect authorization code + PKCE, RFC 6749 §4.1, RFC 7636);
- ``sign_out_everywhere`` (:class:`GlobalSignOut`): every refresh token of the user dies
  (Cognito ``GlobalSignOut``);
- ``jwks_locator``: where the signing keys are when the configuration does not say (OIDC
  discovery's ``jwks_uri``).

Each operation has a blocking face and an async face (``a``-prefixed) with the same meaning.
Errors follow one rule (``_core.errors``): :class:`~ssrauth.ProviderRejected` only for a real
"no" about the grant (the session is over, its cookies are deleted),
:class:`~ssrauth.ProviderUnavailable` for anything else (cookies kept, try again later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .._core.tokens import TokenSet
from .jwks import JwksLocator

__all__ = ["GlobalSignOut", "PasswordSignIn", "Provider", "RedirectSignIn", "SignInResult"]


@dataclass(frozen=True, slots=True)
class SignInResult:
    """Tokens plus what Amplify would store beside them."""

    #: The name Amplify uses in cookie keys: Cognito's USERNAME challenge parameter, or the login
    #: id the user typed (``handleUserPasswordAuthFlow``).
    username: str
    tokens: TokenSet
    #: ``signInDetails`` as Amplify writes it: JSON with loginId and authFlowType.
    sign_in_details: str


class PasswordSignIn(Protocol):
    """Sign-in with a user name and a password posted to the app."""

    def sign_in(self, username: str, password: str) -> SignInResult:
        """Raises ``ProviderRejected`` (wrong credentials), ``SignInChallenge`` (another step
        is wanted) or ``ProviderUnavailable``."""
        ...

    async def asign_in(self, username: str, password: str) -> SignInResult: ...


class RedirectSignIn(Protocol):
    """Sign-in by redirect: the authorization URL out, the code back in."""

    def authorization_url(self, state: str, verifier: str, nonce: str) -> str: ...

    async def aauthorization_url(self, state: str, verifier: str, nonce: str) -> str: ...

    def exchange_code(self, code: str, verifier: str) -> TokenSet:
        """The tokens for a callback's code; they must include an id token and a refresh
        token."""
        ...

    async def aexchange_code(self, code: str, verifier: str) -> TokenSet: ...


class GlobalSignOut(Protocol):
    """Signing a user out on every device."""

    def global_sign_out(self, access_token: str) -> None: ...

    async def aglobal_sign_out(self, access_token: str) -> None: ...


class Provider(Protocol):
    """An identity provider as :class:`~ssrauth.SessionManager` uses it.

    :class:`~ssrauth.CognitoProvider` and :class:`~ssrauth.OidcProvider` are two; write your own
    for another issuer (docs/extending.md, "A provider"). Thread-safe, one per application.
    """

    def refresh(self, refresh_token: str, username: str | None) -> TokenSet:
        """New tokens for a refresh token (``username``: the session's, for providers that
        sign requests with it, like Cognito's SECRET_HASH). A rotated refresh token comes back
        in the set; an absent one means the old one stays."""
        ...

    async def arefresh(self, refresh_token: str, username: str | None) -> TokenSet: ...

    def revoke(self, refresh_token: str) -> bool:
        """Revoke a refresh token at the provider (RFC 7009 or the like). False: the provider
        cannot, and the coordinator's tombstone is all that keeps the token out."""
        ...

    async def arevoke(self, refresh_token: str) -> bool: ...

    def end_session_url(self, id_token: str | None) -> str | None:
        """Where to send the browser after a sign-out to end the provider's own session too
        (OIDC RP-Initiated Logout 1.0), if anywhere. No I/O."""
        ...

    @property
    def password_sign_in(self) -> PasswordSignIn | None: ...

    @property
    def redirect_sign_in(self) -> RedirectSignIn | None: ...

    @property
    def sign_out_everywhere(self) -> GlobalSignOut | None: ...

    @property
    def jwks_locator(self) -> JwksLocator | None: ...
