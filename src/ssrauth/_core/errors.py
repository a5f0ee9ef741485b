"""One exception family, raised where bad input or a provider answer enters ssrauth."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ProviderError",
    "ProviderRejected",
    "ProviderUnavailable",
    "SignInChallenge",
    "SsrAuthError",
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

    The only provider outcome that ends a session (and deletes its cookies).
    """


class ProviderUnavailable(ProviderError):
    """No answer we can act on: network error, timeout, 5xx, throttling, anything unexpected.

    Never ends a session: cookies stay, the request is served as anonymous (or 503 where a user
    is required) and the next request tries again.
    """

    #: Seconds a client should wait before retrying, for ``Retry-After``.
    retry_after: int = 5


class SignInChallenge(ProviderError):
    """The provider wants another step (new password, MFA …) that a password sign-in can't do."""

    def __init__(self, challenge: str, session: str | None) -> None:
        super().__init__(f"sign-in needs the {challenge} challenge answered", challenge)
        self.challenge = challenge
        self.session = session
