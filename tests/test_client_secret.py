"""Confidential app clients: SECRET_HASH on sign-in and refresh, against moto's real API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssrauth import ManualClock, ProviderRejected, SessionManager
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD

from .browser_jar import BrowserJar


@pytest.fixture
def secret_emulator(clock: ManualClock) -> Iterator[CognitoEmulator]:
    with CognitoEmulator(clock, client_secret=True) as emu:
        emu.create_user("carol", PASSWORD)
        yield emu


def test_refresh_with_client_secret_sends_secret_hash(
    secret_emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """moto answers NotAuthorized to REFRESH_TOKEN_AUTH without SECRET_HASH(username)."""
    assert secret_emulator.client_secret
    manager = SessionManager(secret_emulator.config(), clock=clock)
    jar = BrowserJar(HOST)
    auth = manager.load("", "/", HOST)
    auth.sign_in("carol", PASSWORD)
    jar.apply(auth.set_cookie_headers(), "/")

    clock.advance(3600)
    refreshed = manager.load(jar.cookie_header("/"), "/", HOST)

    assert refreshed.session is not None
    assert refreshed.session.username == "carol"
    assert refreshed.unavailable is None
    # One probe of the rotation API (moto lacks it), then the one real refresh.
    assert secret_emulator.calls["GetTokensFromRefreshToken"] == 1
    assert secret_emulator.calls["InitiateAuth:REFRESH_TOKEN_AUTH"] == 1


def test_wrong_client_secret_is_a_rejection_not_an_outage(
    secret_emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """A bad SECRET_HASH is NotAuthorized: a real "no", so the session would be cleared."""
    signed_in = SessionManager(secret_emulator.config(), clock=clock).load("", "/", HOST)
    signed_in.sign_in("carol", PASSWORD)
    tokens = signed_in.outcome.tokens
    assert tokens is not None
    misconfigured = SessionManager(secret_emulator.config(client_secret="wrong"), clock=clock)

    with pytest.raises(ProviderRejected) as rejected:
        misconfigured.provider.refresh(tokens.refresh_token, "carol")
    assert rejected.value.code == "NotAuthorizedException"
