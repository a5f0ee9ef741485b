"""LocalCoordinator: single flight per refresh-token digest, the grace window (Cognito keeps a
rotated refresh token usable for 60 s, so a late tab reuses the result that long), sign-out
tombstones that no stored or in-flight result outlives, and superseded marks after a rotation.

Time is a ManualClock: the windows are crossed with ``advance``, never waited out.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ssrauth import LocalCoordinator, ManualClock, ProviderRejected, ProviderUnavailable
from ssrauth._coordination.coordinator import (
    DEFAULT_GRACE_PERIOD,
    RefreshSource,
    SessionRevoked,
)
from ssrauth._core.tokens import TokenSet, token_digest

#: Upper bound for every wait here: generous for two noisy cores, never a timing claim.
WAIT = 15.0
OLD = "refresh-token-of-alice"


class Provider:
    """Counts refresh calls; answers rotated tokens (or a fixed error)."""

    def __init__(self, *, rotate: bool = True, error: Exception | None = None) -> None:
        self.calls = 0
        self.rotate, self.error = rotate, error

    def __call__(self) -> TokenSet:
        self.calls += 1
        if self.error is not None:
            raise self.error
        refresh = f"rotated-{self.calls}" if self.rotate else OLD
        return TokenSet(f"access-{self.calls}", f"id-{self.calls}", refresh, expires_in=3600)

    async def acall(self) -> TokenSet:
        return self()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def coordinator(clock: ManualClock) -> LocalCoordinator:
    return LocalCoordinator(clock=clock, wait_timeout=WAIT)


def test_threads_refreshing_one_token_make_one_call(coordinator: LocalCoordinator) -> None:
    provider = Provider()
    entered, release = threading.Event(), threading.Event()

    def held() -> TokenSet:
        entered.set()
        assert release.wait(WAIT)
        return provider()

    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(coordinator.refresh, OLD, held)
        assert entered.wait(WAIT)
        # Followers arriving while the call is held coalesce; any arriving after it settled
        # reuse the grace result. Either way the provider is not asked again.
        others = [pool.submit(coordinator.refresh, OLD, provider) for _ in range(5)]
        release.set()
        results = [first.result(WAIT)] + [f.result(WAIT) for f in others]
    assert provider.calls == 1
    assert results[0].source is RefreshSource.PROVIDER
    assert {r.source for r in results[1:]} <= {RefreshSource.COALESCED, RefreshSource.GRACE}
    assert {r.tokens for r in results} == {results[0].tokens}
    assert {r.received_at for r in results} == {results[0].received_at}


def test_each_refresh_token_has_its_own_flight(coordinator: LocalCoordinator) -> None:
    provider = Provider()
    coordinator.refresh("token-a", provider)
    coordinator.refresh("token-b", provider)
    assert provider.calls == 2


def test_a_late_request_within_the_grace_window_reuses_the_result(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider()
    first = coordinator.refresh(OLD, provider)
    clock.advance(DEFAULT_GRACE_PERIOD - 1)
    late = coordinator.refresh(OLD, provider)
    assert provider.calls == 1
    assert late.source is RefreshSource.GRACE
    assert late.tokens == first.tokens
    # The leader's arrival time: Amplify's clockDrift is measured against it, not the reuse.
    assert late.received_at == first.received_at


def test_after_the_grace_window_the_provider_is_asked_again(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider()
    coordinator.refresh(OLD, provider)
    clock.advance(DEFAULT_GRACE_PERIOD + 1)
    again = coordinator.refresh(OLD, provider)
    assert provider.calls == 2
    assert again.source is RefreshSource.PROVIDER


def test_the_async_face_shares_the_window_with_the_blocking_one(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider()
    first = asyncio.run(coordinator.arefresh(OLD, provider.acall))
    clock.advance(10)
    late = coordinator.refresh(OLD, provider)
    assert provider.calls == 1
    assert (first.source, late.source) == (RefreshSource.PROVIDER, RefreshSource.GRACE)


def test_a_rejection_is_remembered_for_the_grace_window(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider(error=ProviderRejected("revoked", "NotAuthorizedException"))
    for _ in range(2):
        with pytest.raises(ProviderRejected, match="revoked"):
            coordinator.refresh(OLD, provider)
    assert provider.calls == 1
    clock.advance(DEFAULT_GRACE_PERIOD + 1)
    with pytest.raises(ProviderRejected):
        coordinator.refresh(OLD, provider)
    assert provider.calls == 2


def test_an_outage_is_not_remembered(coordinator: LocalCoordinator) -> None:
    """The next request must try again: an outage says nothing about the session."""
    provider = Provider(error=ProviderUnavailable("connection refused"))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            coordinator.refresh(OLD, provider)
    assert provider.calls == 2


def test_a_tombstone_stops_refreshes_until_it_expires(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider()
    coordinator.revoke(token_digest(OLD))
    assert coordinator.is_revoked(token_digest(OLD))
    assert asyncio.run(coordinator.ais_revoked(token_digest(OLD)))
    with pytest.raises(SessionRevoked):
        coordinator.refresh(OLD, provider)
    assert provider.calls == 0
    assert not coordinator.is_revoked(token_digest("another-token"))
    clock.advance(coordinator.tombstone_ttl + 1)
    assert not coordinator.is_revoked(token_digest(OLD))
    assert coordinator.refresh(OLD, provider).source is RefreshSource.PROVIDER


def test_sign_out_throws_away_a_stored_result(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    provider = Provider()
    coordinator.refresh(OLD, provider)
    asyncio.run(coordinator.arevoke(token_digest(OLD)))
    clock.advance(1)
    with pytest.raises(SessionRevoked):
        coordinator.refresh(OLD, provider)
    assert provider.calls == 1


def test_sign_out_during_the_call_fails_it_and_keeps_nothing(
    coordinator: LocalCoordinator,
) -> None:
    """A refresh in flight when the user signs out must not bring the session back."""
    provider = Provider()

    def signed_out_meanwhile() -> TokenSet:
        coordinator.revoke(token_digest(OLD))
        return provider()

    with pytest.raises(SessionRevoked):
        coordinator.refresh(OLD, signed_out_meanwhile)
    with pytest.raises(SessionRevoked):
        coordinator.refresh(OLD, provider)
    assert provider.calls == 1


def test_a_rotation_marks_the_old_token_superseded_for_a_while(
    coordinator: LocalCoordinator, clock: ManualClock
) -> None:
    coordinator.refresh(OLD, Provider(rotate=True))
    assert coordinator.is_superseded(token_digest(OLD))
    assert asyncio.run(coordinator.ais_superseded(token_digest(OLD)))
    assert not coordinator.is_superseded(token_digest("rotated-1"))
    clock.advance(coordinator.superseded_ttl + 1)
    assert not coordinator.is_superseded(token_digest(OLD))


def test_a_refresh_without_rotation_supersedes_nothing(coordinator: LocalCoordinator) -> None:
    coordinator.refresh(OLD, Provider(rotate=False))
    assert not coordinator.is_superseded(token_digest(OLD))
