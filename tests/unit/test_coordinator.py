"""Refresh coordination in one process: one provider call per refresh token however many
threads and tasks ask, a grace window for late requests, and sign-out tombstones."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from ssrauth._clock import ManualClock
from ssrauth._coordinator import LocalCoordinator, Refreshed, RefreshSource, SessionRevoked
from ssrauth._errors import ProviderRejected, ProviderUnavailable
from ssrauth._tokens import TokenSet, token_digest
from tests.unit.factory import CallCounter

KEY = token_digest("refresh-token-of-alice")
TOKENS = TokenSet("access", "id", "rotated-refresh")
#: Generous bound on every wait: a broken coordinator fails the test instead of hanging it.
PATIENCE = 10.0


class Provider:
    """A stand-in provider call that blocks until released, so callers can pile up behind it.

    ``outcome`` is what the call returns (a TokenSet) or raises (an exception instance).
    """

    def __init__(self, outcome: TokenSet | Exception = TOKENS) -> None:
        self.outcome = outcome
        self.calls = CallCounter()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> TokenSet:
        self.calls.increment()
        self.entered.set()
        assert self.release.wait(PATIENCE), "the test never released the provider call"
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    async def acall(self) -> TokenSet:
        return await asyncio.to_thread(self)


def answer(outcome: TokenSet | Exception = TOKENS) -> Provider:
    """A provider that answers at once."""
    provider = Provider(outcome)
    provider.release.set()
    return provider


def coordinator(clock: ManualClock | None = None, **kwargs: Any) -> LocalCoordinator:
    return LocalCoordinator(clock=clock or ManualClock(), **kwargs)


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition another thread makes true (a rendezvous, not a timing assertion)."""
    done = threading.Event()
    for _ in range(int(PATIENCE / 0.005)):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError("condition never became true")


def test_threads_and_tasks_on_one_key_share_one_provider_call() -> None:
    coord = coordinator()
    provider = Provider()
    joined = CallCounter()

    def thread_follower() -> Refreshed:
        joined.increment()
        return coord.refresh(KEY, provider)

    async def task_follower() -> Refreshed:
        joined.increment()  # joins the flight before its first await: no gap to race
        return await coord.arefresh(KEY, provider.acall)

    async def tasks_then_release() -> list[Refreshed]:
        tasks = [asyncio.create_task(task_follower()) for _ in range(50)]
        await asyncio.sleep(0)
        await asyncio.to_thread(wait_until, lambda: joined.count == 57)
        provider.release.set()
        return await asyncio.gather(*tasks)

    with ThreadPoolExecutor(8) as pool:
        leader = pool.submit(coord.refresh, KEY, provider)
        assert provider.entered.wait(PATIENCE)
        threads = [pool.submit(thread_follower) for _ in range(7)]
        from_tasks = asyncio.run(tasks_then_release())
        from_threads = [leader.result(PATIENCE)] + [f.result(PATIENCE) for f in threads]

    assert provider.calls.count == 1
    results = from_threads + from_tasks
    assert all(r.tokens is TOKENS for r in results)
    assert [r.source for r in results].count(RefreshSource.PROVIDER) == 1
    assert from_threads[0].source is RefreshSource.PROVIDER
    # Tasks joined before the call could finish; a thread may join just after (then it reuses
    # the stored result): either way nobody called the provider again.
    assert {r.source for r in from_tasks} == {RefreshSource.COALESCED}
    assert {r.source for r in from_threads[1:]} <= {RefreshSource.COALESCED, RefreshSource.GRACE}


def test_async_leader_shares_its_call_with_async_followers() -> None:
    coord = coordinator()
    provider = Provider()

    async def scenario() -> list[Refreshed]:
        tasks = [asyncio.create_task(coord.arefresh(KEY, provider.acall)) for _ in range(20)]
        await asyncio.to_thread(provider.entered.wait, PATIENCE)
        provider.release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(scenario())
    assert provider.calls.count == 1
    assert [r.source for r in results].count(RefreshSource.PROVIDER) == 1
    assert all(r.tokens is TOKENS for r in results)


def test_different_keys_do_not_coalesce() -> None:
    coord = coordinator()
    provider = answer()
    coord.refresh(KEY, provider)
    coord.refresh(token_digest("another refresh token"), provider)
    assert provider.calls.count == 2


# -- the grace window ----------------------------------------------------------------------------


def test_late_request_reuses_the_result_within_the_grace_window() -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    provider = answer()
    assert coord.refresh(KEY, provider).source is RefreshSource.PROVIDER
    clock.advance(59)
    late = coord.refresh(KEY, provider)
    assert (late.source, late.tokens) == (RefreshSource.GRACE, TOKENS)
    assert provider.calls.count == 1


def test_after_the_grace_window_the_provider_is_asked_again() -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    provider = answer()
    coord.refresh(KEY, provider)
    clock.advance(61)
    assert coord.refresh(KEY, provider).source is RefreshSource.PROVIDER
    assert provider.calls.count == 2


def test_async_late_request_reuses_the_result_too() -> None:
    coord = coordinator()
    provider = answer()
    coord.refresh(KEY, provider)
    late = asyncio.run(coord.arefresh(KEY, provider.acall))
    assert (late.source, provider.calls.count) == (RefreshSource.GRACE, 1)


# -- provider errors -----------------------------------------------------------------------------


def run_with_followers(coord: LocalCoordinator, provider: Provider,
                       followers: int = 5) -> list[Future[Refreshed]]:
    """The leader and ``followers`` threads on KEY, all of them in before the call returns."""
    pool = ThreadPoolExecutor(followers + 1)
    joined = CallCounter()

    def follow() -> Refreshed:
        joined.increment()
        return coord.refresh(KEY, provider)

    futures = [pool.submit(coord.refresh, KEY, provider)]
    assert provider.entered.wait(PATIENCE)
    futures += [pool.submit(follow) for _ in range(followers)]
    wait_until(lambda: joined.count == followers)
    provider.release.set()
    pool.shutdown(wait=True)
    return futures


def test_rejection_is_shared_and_remembered_for_the_grace_window() -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    rejection = ProviderRejected("Refresh Token has been revoked", "NotAuthorizedException")
    provider = Provider(rejection)
    for future in run_with_followers(coord, provider):
        assert future.exception() is rejection
    with pytest.raises(ProviderRejected) as late:
        coord.refresh(KEY, answer())  # a late tab must not retry a token Cognito refused
    assert late.value is rejection
    assert provider.calls.count == 1
    clock.advance(61)
    assert coord.refresh(KEY, answer()).source is RefreshSource.PROVIDER


def test_unavailability_is_shared_but_not_remembered() -> None:
    coord = coordinator()
    outage = ProviderUnavailable("connect timeout")
    provider = Provider(outage)
    for future in run_with_followers(coord, provider):
        assert future.exception() is outage
    assert provider.calls.count == 1
    # An outage says nothing about the token: the very next request tries again.
    recovered = answer()
    assert coord.refresh(KEY, recovered).source is RefreshSource.PROVIDER
    assert recovered.calls.count == 1


# -- sign-out tombstones -------------------------------------------------------------------------


def test_revoke_during_the_call_fails_everyone_and_keeps_no_result() -> None:
    clock = ManualClock()
    coord = coordinator(clock, tombstone_ttl=10)
    provider = Provider()
    pool = ThreadPoolExecutor(4)
    futures = [pool.submit(coord.refresh, KEY, provider)]
    assert provider.entered.wait(PATIENCE)
    futures += [pool.submit(coord.refresh, KEY, provider) for _ in range(3)]
    coord.revoke(KEY)  # sign-out lands while the refresh is at Cognito
    provider.release.set()
    pool.shutdown(wait=True)
    assert all(isinstance(f.exception(), SessionRevoked) for f in futures)
    assert provider.calls.count == 1
    assert coord.is_revoked(KEY)
    with pytest.raises(SessionRevoked):
        coord.refresh(KEY, answer())
    # Once the tombstone is gone (10 s here, well inside the 60 s grace window), a stored result
    # would answer GRACE; the provider being asked shows the revoked tokens were never kept.
    clock.advance(11)
    assert not coord.is_revoked(KEY)
    assert coord.refresh(KEY, answer()).source is RefreshSource.PROVIDER


def test_revoke_discards_a_stored_result() -> None:
    coord = coordinator()
    coord.refresh(KEY, answer())
    coord.revoke(KEY)
    with pytest.raises(SessionRevoked) as raised:
        coord.refresh(KEY, answer())
    assert isinstance(raised.value, ProviderRejected)  # callers end the session on it


def test_tombstone_expires_after_its_ttl() -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    asyncio.run(coord.arevoke(KEY))
    assert coord.is_revoked(KEY)
    assert not coord.is_revoked(token_digest("someone else"))
    clock.advance(86_401)
    assert not coord.is_revoked(KEY)


# -- cancellation --------------------------------------------------------------------------------


def test_cancelled_leader_does_not_hang_its_followers() -> None:
    coord = coordinator()
    never = asyncio.Event()
    calls = CallCounter()

    async def stuck_call() -> TokenSet:
        calls.increment()
        await never.wait()
        raise AssertionError("unreachable")

    async def scenario() -> tuple[BaseException | Refreshed, ...]:
        leader = asyncio.create_task(coord.arefresh(KEY, stuck_call))
        await asyncio.sleep(0)
        followers = [asyncio.create_task(coord.arefresh(KEY, stuck_call)) for _ in range(5)]
        await asyncio.sleep(0)
        leader.cancel()
        results = await asyncio.wait_for(
            asyncio.gather(leader, *followers, return_exceptions=True), PATIENCE)
        return tuple(results)

    leader_result, *follower_results = asyncio.run(scenario())
    assert isinstance(leader_result, asyncio.CancelledError)
    assert all(isinstance(r, ProviderUnavailable) for r in follower_results)
    assert calls.count == 1
    # Nothing was settled: the next request asks the provider.
    assert coord.refresh(KEY, answer()).source is RefreshSource.PROVIDER


def test_follower_thread_waits_on_an_async_leader() -> None:
    coord = coordinator()
    provider = Provider()

    async def leader() -> Refreshed:
        return await coord.arefresh(KEY, provider.acall)

    def run_leader() -> Refreshed:
        return asyncio.run(leader())

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run_leader)
        assert provider.entered.wait(PATIENCE)
        second = pool.submit(coord.refresh, KEY, provider)
        wait_until(second.running)
        provider.release.set()
        results = [first.result(PATIENCE), second.result(PATIENCE)]
    assert provider.calls.count == 1
    assert results[0].source is RefreshSource.PROVIDER
    assert results[1].source in {RefreshSource.COALESCED, RefreshSource.GRACE}


def test_a_rotated_refresh_token_is_remembered_as_superseded() -> None:
    """A later "no" for the old token then comes from a stale tab, not the end of the session."""
    clock = ManualClock()
    local = coordinator(clock)
    local.refresh(KEY, answer())  # TOKENS carries a different ("rotated") refresh token

    clock.advance(local.grace_period + 1)  # past the grace window: the result itself is gone

    assert local.is_superseded(KEY)
    assert not local.is_superseded(token_digest(TOKENS.refresh_token))
    clock.advance(local.superseded_ttl)
    assert not local.is_superseded(KEY)


def test_a_refresh_without_rotation_supersedes_nothing() -> None:
    local = coordinator()
    same = TokenSet("access", "id", "refresh-token-of-alice")

    local.refresh(KEY, answer(same))

    assert not local.is_superseded(KEY)
