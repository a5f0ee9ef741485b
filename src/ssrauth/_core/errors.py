"""Every error ssrauth raises on purpose, in one family, raised where bad input, a provider's
answer or a store failure enters ssrauth::

    SsrAuthError
    ├── ProviderError            the identity provider gave no tokens (.code: its error name)
    │   ├── ProviderRejected     a real "no" about the grant: the session ends, cookies deleted
    │   └── ProviderUnavailable  no answer to act on (network, 5xx, throttling): cookies kept
    │       └── ProviderTimeout  no answer in time: the token rests a short backoff before
    │                            the next call (the provider may still be working on it)
    ├── StoreUnavailable         the shared coordinator's store did not answer: coordinated in
    │                            this process meanwhile, and nobody is logged out for it
    ├── InvalidToken             a token we do not accept (.reason, safe to log)
    │   ├── UnknownSigningKey    signed with a kid we lack: refetch the keys once
    │   └── ExpiredToken         verified, but past its ``exp`` (``TokenChecker`` only)
    ├── SignedOut                the session was signed out (a tombstone): no refresh brings
    │                            it back, the request is cleared
    ├── SignInError              a sign-in cannot complete (callback state, provider error,
    │   │                        nonce): send the user to sign in again
    │   └── SignInChallenge      the provider wants another step (also a ProviderError)
    ├── ConfigError              the configuration cannot work (also a ValueError)
    └── SourceError              ``ssrauth audit``: the input holds no cookies (also a ValueError)

Only :class:`ProviderRejected` and :class:`SignedOut` end a session. An outage of any kind (the
provider's, the keys', the store's) keeps the cookies: the next request tries again.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ExpiredToken",
    "InvalidToken",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "SignInChallenge",
    "SignInError",
    "SignedOut",
    "SourceError",
    "SsrAuthError",
    "StoreUnavailable",
    "UnknownSigningKey",
]


class SsrAuthError(Exception):
    """Base of every error ssrauth raises on purpose."""


class ConfigError(SsrAuthError, ValueError):
    """The configuration cannot work (missing pool id, malformed amplify_outputs.json …)."""


class ProviderError(SsrAuthError):
    """The identity provider gave no tokens. ``code`` is its error name, when it sent one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


class ProviderRejected(ProviderError):
    """A real "no": the credentials or refresh token are invalid, revoked or reused.

    The provider outcome that ends a session (and deletes its cookies).
    """


class ProviderUnavailable(ProviderError):
    """No answer we can act on: network error, timeout, 5xx, throttling, anything unexpected.

    Never ends a session: cookies stay, the request is served as anonymous (or 503 where a user
    is required) and the next request tries again.
    """

    #: Seconds a client should wait before retrying, for ``Retry-After``.
    retry_after: int = 5


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the configured timeout.

    Unlike a refusal or a 5xx, the call may still be running at the provider (and may still
    rotate the refresh token there), so calling again at once only piles work onto a slow
    provider: the refresh token rests for a short backoff, during which its requests are
    answered "unavailable" without a call (``retry_after`` says for how long).
    """


class StoreUnavailable(SsrAuthError):
    """The shared coordinator's store did not answer (down, locked past its timeout,
    unreadable).

    Not the provider's outage: the provider may be fine. The shared coordinator catches it,
    reports ``store_unavailable`` and coordinates in this process until the store is back; a
    provider "no" meanwhile keeps the cookies (another process may have rotated the token, and
    its mark is in the store we cannot read).
    """


class InvalidToken(SsrAuthError):
    """The token is not one we accept; ``reason`` is safe to log (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownSigningKey(InvalidToken):
    """Signed with a ``kid`` not in our JWKS: the pool may have rotated keys, so refetch once."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"unknown signing key id {kid!r}")
        self.kid = kid


class ExpiredToken(InvalidToken):
    """Signature and claims check out, but the token is past its ``exp`` (RFC 7519 §4.1.4:
    "MUST NOT be accepted for processing" on or after it). Raised by ``TokenChecker``; the
    session manager refreshes such a token instead."""

    def __init__(self, exp: int) -> None:
        super().__init__(f"token expired at {exp}")
        self.exp = exp


class SignedOut(SsrAuthError):
    """The session was signed out here (a coordinator tombstone, not a provider's answer): a
    refresh of its token must not bring it back, and the request carrying it is cleared."""

    def __init__(self) -> None:
        super().__init__("the session was signed out")


class SignInError(SsrAuthError):
    """The callback cannot complete a sign-in: no sign-in in progress, a state that does not
    match (a forged or crossed callback), the provider's own ``error=…``, or a bad id token
    nonce. No session is made; send the user to sign in again."""


class SignInChallenge(SignInError, ProviderError):
    """The provider wants another step (new password, MFA …) that a password sign-in can't do.

    Also a :class:`ProviderError`, as it always was: the provider answered, without tokens.
    """

    def __init__(self, challenge: str, session: str | None) -> None:
        super().__init__(f"sign-in needs the {challenge} challenge answered", challenge)
        self.challenge = challenge
        self.session = session


class SourceError(SsrAuthError, ValueError):
    """``ssrauth audit``: the input is unreadable or holds no cookies; the message is one line
    for stderr."""
