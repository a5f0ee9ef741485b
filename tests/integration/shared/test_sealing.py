"""What a shared store holds: digests and sealed outcomes, never a token; an outcome opens only
with the refresh token it was stored for. And how a deployment names its coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ssrauth import (
    ConfigError,
    LocalCoordinator,
    ManualClock,
    RedisCoordinator,
    SessionManager,
    SqliteCoordinator,
    coordinator_from_url,
)
from ssrauth._coordination.seal import open_outcome
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth._coordination.store import Claim
from ssrauth._core.errors import ProviderUnavailable
from ssrauth._core.tokens import TokenSet, token_digest
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD

from .stores import REDIS_URL, StoreSpec, raw_entries


@dataclass
class Refreshed:
    manager: SessionManager
    coordinator: SharedCoordinator
    header: str  # the signed-in cookies
    old: TokenSet
    new: TokenSet


def refresh_once(store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock) -> Refreshed:
    """Sign in, let the tokens expire, refresh once through the store."""
    coordinator = store.coordinator(clock)
    manager = SessionManager(emulator.config(), clock=clock, coordinator=coordinator)
    signed_in = manager.load("", "/", HOST)
    signed_in.sign_in("alice", PASSWORD)
    header = "; ".join(line.split(";")[0] for line in signed_in.set_cookie_headers())
    clock.advance(3600)
    new = manager.load(header, "/", HOST).outcome.tokens
    assert signed_in.outcome.tokens is not None
    assert new is not None
    assert new.access_token != signed_in.outcome.tokens.access_token
    return Refreshed(manager, coordinator, header, signed_in.outcome.tokens, new)


def test_the_store_holds_no_token(
    store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    done = refresh_once(store, emulator, clock)
    done.manager.load(done.header, "/", HOST).sign_out()  # a tombstone too

    entries = raw_entries(store)
    assert entries
    secrets = {done.old.access_token, done.old.refresh_token, done.new.access_token,
               done.new.refresh_token, done.new.id_token or ""}
    for secret in secrets:
        for piece in (secret, secret[:24], secret[-24:]):  # not whole, not in part
            assert not any(piece.encode() in entry for entry in entries), piece[:12]


def test_a_sealed_result_opens_only_with_its_refresh_token(
    store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    done = refresh_once(store, emulator, clock)
    token = done.old.refresh_token
    key = token_digest(token)
    now = clock.now()
    sealed = done.coordinator.store.run(Claim(key, "a test", now, now + 1))
    assert isinstance(sealed, bytes)

    opened = open_outcome(token, key, sealed)
    assert not isinstance(opened, Exception)
    assert opened.tokens == done.new
    with pytest.raises(ProviderUnavailable):
        open_outcome(token + "x", key, sealed)  # another refresh token
    with pytest.raises(ProviderUnavailable):
        open_outcome(token, token_digest("another"), sealed)  # moved under another key


def test_coordinators_are_named_by_url(tmp_path: Path, clock: ManualClock) -> None:
    assert isinstance(coordinator_from_url("local", clock=clock), LocalCoordinator)
    sqlite = coordinator_from_url(f"sqlite://{tmp_path}/ssrauth.db", clock=clock)
    assert isinstance(sqlite, SqliteCoordinator)
    assert sqlite.store.path == f"{tmp_path}/ssrauth.db"
    redis = coordinator_from_url(REDIS_URL.replace("/0", "/0?prefix=app1:"), clock=clock)
    assert isinstance(redis, RedisCoordinator)
    assert redis.store.prefix == "app1:"
    assert not redis.is_revoked(b"\0" * 32)  # the URL without prefix= reached Redis
    for wrong in ("memcached://127.0.0.1", "sqlite://", "nonsense"):
        with pytest.raises(ConfigError):
            coordinator_from_url(wrong, clock=clock)


def test_the_manager_reads_SSRAUTH_COORDINATOR(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: CognitoEmulator,
    clock: ManualClock,
) -> None:
    monkeypatch.setenv("SSRAUTH_COORDINATOR", f"sqlite://{tmp_path}/env.db")
    manager = SessionManager(emulator.config(), clock=clock)
    assert isinstance(manager.coordinator, SqliteCoordinator)
    assert manager.coordinator.events is manager.events
    monkeypatch.setenv("SSRAUTH_COORDINATOR", "local")
    assert isinstance(SessionManager(emulator.config(), clock=clock).coordinator,
                      LocalCoordinator)
