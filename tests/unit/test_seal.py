"""Sealed refresh outcomes for shared stores: AES-256-GCM under HKDF-SHA256(old refresh token),
the store key as associated data. Only a request holding the old token opens an outcome; a
tampered, moved or foreign entry is "unavailable" (it says nothing about the session), and the
sealed bytes never carry a token a reader of the store could replay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth import ProviderRejected, ProviderUnavailable
from ssrauth._coordination.coordinator import Refreshed, RefreshSource
from ssrauth._coordination.seal import open_outcome, seal_outcome
from ssrauth._core.tokens import TokenSet, token_digest

OLD = "old-refresh-token-of-alice"
KEY = token_digest(OLD)
TOKENS = TokenSet("access-token-text", "id-token-text", "new-refresh-token-text", 3600)
REFRESHED = Refreshed(TOKENS, RefreshSource.PROVIDER, 1_700_000_000.25)


def test_tokens_round_trip_as_a_grace_result() -> None:
    opened = open_outcome(OLD, KEY, seal_outcome(OLD, KEY, REFRESHED))
    assert opened == Refreshed(TOKENS, RefreshSource.GRACE, REFRESHED.received_at)


def test_a_rejection_round_trips_with_its_code() -> None:
    rejected = ProviderRejected("Refresh Token has been revoked", "NotAuthorizedException")
    opened = open_outcome(OLD, KEY, seal_outcome(OLD, KEY, rejected))
    assert isinstance(opened, ProviderRejected)
    assert (opened.code, opened.message) == (rejected.code, rejected.message)


def test_absent_id_token_and_lifetime_round_trip() -> None:
    bare = Refreshed(TokenSet("a", None, "r"), RefreshSource.PROVIDER, 1.0)
    opened = open_outcome(OLD, KEY, seal_outcome(OLD, KEY, bare))
    assert isinstance(opened, Refreshed)
    assert opened.tokens == bare.tokens


def test_another_refresh_token_cannot_open_it() -> None:
    sealed = seal_outcome(OLD, KEY, REFRESHED)
    with pytest.raises(ProviderUnavailable):
        open_outcome("another-refresh-token", KEY, sealed)


def test_an_outcome_moved_under_another_key_does_not_open() -> None:
    sealed = seal_outcome(OLD, KEY, REFRESHED)
    with pytest.raises(ProviderUnavailable):
        open_outcome(OLD, token_digest("another-refresh-token"), sealed)


@given(st.data())
def test_any_changed_byte_fails_to_open(data: st.DataObject) -> None:
    sealed = bytearray(seal_outcome(OLD, KEY, REFRESHED))
    index = data.draw(st.integers(0, len(sealed) - 1))
    sealed[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ProviderUnavailable):
        open_outcome(OLD, KEY, bytes(sealed))


@pytest.mark.parametrize("sealed", [b"", b"short", b"\x00" * 64])
def test_garbage_is_unavailable_not_an_exception(sealed: bytes) -> None:
    with pytest.raises(ProviderUnavailable):
        open_outcome(OLD, KEY, sealed)


def test_the_sealed_bytes_hold_no_token_text() -> None:
    sealed = seal_outcome(OLD, KEY, REFRESHED)
    for secret in (OLD, TOKENS.access_token, TOKENS.id_token, TOKENS.refresh_token):
        assert secret is not None
        assert secret.encode() not in sealed


def test_sealing_twice_gives_different_bytes() -> None:
    """A fresh nonce each time: AES-GCM must never reuse one under the same key."""
    assert seal_outcome(OLD, KEY, REFRESHED) != seal_outcome(OLD, KEY, REFRESHED)
