"""The I/O the session flows ask for, as typed steps (see ``_core.steps``): each names its
answer, and :class:`~ssrauth.SessionManager` registers one blocking and one async handler for
each, in one table."""

from __future__ import annotations

from dataclasses import dataclass

from .._coordination.coordinator import Refreshed
from .._core.signin_state import SignInState
from .._core.steps import Step
from .._core.tokens import JwkSet, TokenSet
from .._providers.provider import SignInResult

__all__ = [
    "AllSuperseded",
    "AnyRevoked",
    "Authorize",
    "Exchange",
    "FetchJwks",
    "GlobalSignOut",
    "Refresh",
    "SignIn",
    "SignOut",
]


@dataclass(frozen=True, slots=True)
class FetchJwks(Step[JwkSet]):
    """The signing keys, fetched now (a token names a key we lack)."""


@dataclass(frozen=True, slots=True)
class Refresh(Step[Refreshed]):
    """A refresh through the coordinator: one provider call per refresh token, shared."""

    refresh_token: str
    username: str | None


@dataclass(frozen=True, slots=True)
class SignIn(Step[SignInResult]):
    """A password sign-in at the provider."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class SignOut(Step[bool]):
    """Tombstone a refresh token and revoke it at the provider; answers whether the provider
    revoked it."""

    refresh_token: str
    #: False: tombstone only (beyond MAX_PROVIDER_TOKENS, no provider call).
    at_provider: bool = True


@dataclass(frozen=True, slots=True)
class GlobalSignOut(Step[None]):
    """Sign the user out on every device (asked only of a provider that can)."""

    access_token: str


@dataclass(frozen=True, slots=True)
class Authorize(Step[str]):
    """The provider's authorization URL for a redirect sign-in."""

    state: SignInState


@dataclass(frozen=True, slots=True)
class Exchange(Step[TokenSet]):
    """The tokens for a callback's code (with its PKCE verifier)."""

    code: str
    verifier: str


@dataclass(frozen=True, slots=True)
class AnyRevoked(Step[bool]):
    """Whether any of these refresh tokens was signed out (a coordinator read). ``confirm``:
    asked before a response writes cookies, so read the store itself, not a copy that may lag
    (see ``ConfirmsRevocation``)."""

    digests: tuple[bytes, ...]
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class AllSuperseded(Step[bool]):
    """Whether every one of these refresh tokens was rotated away (a coordinator read)."""

    digests: tuple[bytes, ...]
