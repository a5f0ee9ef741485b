"""One error family (``_core.errors``), exported from ``ssrauth``, with the places that used to
define some of them still answering the same classes."""

from __future__ import annotations

import ssrauth
from ssrauth import (
    ConfigError,
    InvalidToken,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SignedOut,
    SignInChallenge,
    SignInError,
    SourceError,
    SsrAuthError,
    StoreUnavailable,
    UnknownSigningKey,
)


def test_every_exported_error_is_an_ssrauth_error() -> None:
    errors = [getattr(ssrauth, name) for name in ssrauth.__all__
              if isinstance(getattr(ssrauth, name), type)
              and issubclass(getattr(ssrauth, name), Exception)]
    assert len(errors) == 14
    assert all(issubclass(error, SsrAuthError) for error in errors)


def test_outages_are_not_verdicts_and_our_own_sign_out_is_not_the_providers() -> None:
    assert not issubclass(StoreUnavailable, ProviderError)  # the provider may be fine
    assert not issubclass(SignedOut, ProviderError)  # a tombstone here, not a provider "no"
    assert not issubclass(ProviderUnavailable, ProviderRejected)
    assert str(SignedOut()) == "the session was signed out"


def test_the_tree_keeps_what_callers_catch() -> None:
    challenge = SignInChallenge("NEW_PASSWORD_REQUIRED", "session")
    assert isinstance(challenge, SignInError)
    assert isinstance(challenge, ProviderError)  # as before: the provider answered, no tokens
    assert challenge.code == "NEW_PASSWORD_REQUIRED"
    assert issubclass(UnknownSigningKey, InvalidToken)
    assert UnknownSigningKey("k1").reason == "unknown signing key id 'k1'"
    assert issubclass(ConfigError, ValueError)
    assert issubclass(SourceError, ValueError)


def test_former_homes_still_answer_the_same_classes() -> None:
    from ssrauth._audit import sources
    from ssrauth._coordination import coordinator, store
    from ssrauth._core import signin_state, tokens

    assert sources.SourceError is SourceError
    assert coordinator.SessionRevoked is SignedOut
    assert store.StoreUnavailable is StoreUnavailable
    assert signin_state.SignInError is SignInError
    assert tokens.InvalidToken is InvalidToken
