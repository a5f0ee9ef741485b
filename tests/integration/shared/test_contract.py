"""The RefreshCoordinator contract, for every coordinator (in-process, SQLite, Redis): one
provider call per refresh token however many threads and tasks ask, a grace window for late
requests, shared rejections, unshared outages, sign-out tombstones and superseded tokens.

The cross-process coordinators are checked here from one process (their in-process half and
their store together); tests/integration/shared/test_processes.py runs them across processes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import pytest

from ssrauth import SharedCoordinator
from ssrauth._coordination.coordinator import (
    LocalCoordinator,
    RefreshCoordinator,
    Refreshed,
    RefreshSource,
)
from ssrauth._core.clock import ManualClock
from ssrauth._core.errors import ProviderRejected, ProviderUnavailable, SignedOut
from ssrauth._core.tokens import TokenSet, token_digest
from tests.unit.factory import CallCounter

from .stores import StoreSpec, documented_store

TOKEN = "refresh-token-of-alice"
KEY = token_digest(TOKEN)
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


class Coordinator(RefreshCoordinator, Protocol):
    grace_period: float
    superseded_ttl: float


class Make(Protocol):
    def __call__(self, clock: ManualClock | None = None, **options: Any) -> Coordinator: ...


@pytest.fixture(params=["local", "sqlite", "redis", "documented"])
def coordinator(request: pytest.FixtureRequest) -> Make:
    """Builds the coordinator under test (several per test share one store, like processes).
    ``documented`` is docs/extending.md's store, written against the public API only."""
    if request.param == "local":
        def local(clock: ManualClock | None = None, **options: Any) -> Coordinator:
            return LocalCoordinator(clock=clock or ManualClock(), **options)

        return local
    if request.param == "documented":
        memory = documented_store().MemoryStore()

        def over_memory(clock: ManualClock | None = None, **options: Any) -> Coordinator:
            return SharedCoordinator(memory, clock=clock or ManualClock(), **options)

        return over_memory
    spec: StoreSpec = request.getfixturevalue("new_store")(request.param)

    def shared(clock: ManualClock | None = None, **options: Any) -> Coordinator:
        return spec.coordinator(clock or ManualClock(), **options)

    return shared


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition another thread makes true (a rendezvous, not a timing assertion)."""
    done = threading.Event()
    for _ in range(int(PATIENCE / 0.005)):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError("condition never became true")


def test_threads_and_tasks_on_one_key_share_one_provider_call(coordinator: Make) -> None:
    coord = coordinator()
    provider = Provider()
    joined = CallCounter()

    def thread_follower() -> Refreshed:
        joined.increment()
        return coord.refresh(TOKEN, provider)

    async def task_follower() -> Refreshed:
        joined.increment()  # joins the flight before its first await: no gap to race
        return await coord.arefresh(TOKEN, provider.acall)

    async def tasks_then_release() -> list[Refreshed]:
        tasks = [asyncio.create_task(task_follower()) for _ in range(50)]
        await asyncio.sleep(0)
        await asyncio.to_thread(wait_until, lambda: joined.count == 57)
        provider.release.set()
        return await asyncio.gather(*tasks)

    with ThreadPoolExecutor(8) as pool:
        leader = pool.submit(coord.refresh, TOKEN, provider)
        assert provider.entered.wait(PATIENCE)
        threads = [pool.submit(thread_follower) for _ in range(7)]
        from_tasks = asyncio.run(tasks_then_release())
        from_threads = [leader.result(PATIENCE)] + [f.result(PATIENCE) for f in threads]

    assert provider.calls.count == 1
    results = from_threads + from_tasks
    assert all(r.tokens == TOKENS for r in results)
    assert [r.source for r in results].count(RefreshSource.PROVIDER) == 1
    assert from_threads[0].source is RefreshSource.PROVIDER
    # Tasks joined before the call could finish; a thread may join just after (then it reuses
    # the stored result): either way nobody called the provider again.
    assert {r.source for r in from_tasks} == {RefreshSource.COALESCED}
    assert {r.source for r in from_threads[1:]} <= {RefreshSource.COALESCED, RefreshSource.GRACE}


def test_async_leader_shares_its_call_with_async_followers(coordinator: Make) -> None:
    coord = coordinator()
    provider = Provider()

    async def scenario() -> list[Refreshed]:
        tasks = [asyncio.create_task(coord.arefresh(TOKEN, provider.acall)) for _ in range(20)]
        await asyncio.to_thread(provider.entered.wait, PATIENCE)
        provider.release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(scenario())
    assert provider.calls.count == 1
    assert [r.source for r in results].count(RefreshSource.PROVIDER) == 1
    assert all(r.tokens == TOKENS for r in results)


def test_different_keys_do_not_coalesce(coordinator: Make) -> None:
    coord = coordinator()
    provider = answer()
    coord.refresh(TOKEN, provider)
    coord.refresh("another refresh token", provider)
    assert provider.calls.count == 2


# -- the grace window ----------------------------------------------------------------------------


def test_late_request_reuses_the_result_within_the_grace_window(coordinator: Make) -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    provider = answer()
    assert coord.refresh(TOKEN, provider).source is RefreshSource.PROVIDER
    clock.advance(59)
    late = coord.refresh(TOKEN, provider)
    assert (late.source, late.tokens) == (RefreshSource.GRACE, TOKENS)
    assert provider.calls.count == 1


def test_after_the_grace_window_the_provider_is_asked_again(coordinator: Make) -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    provider = answer()
    coord.refresh(TOKEN, provider)
    clock.advance(61)
    assert coord.refresh(TOKEN, provider).source is RefreshSource.PROVIDER
    assert provider.calls.count == 2


def test_async_late_request_reuses_the_result_too(coordinator: Make) -> None:
    coord = coordinator()
    provider = answer()
    coord.refresh(TOKEN, provider)
    late = asyncio.run(coord.arefresh(TOKEN, provider.acall))
    assert (late.source, provider.calls.count) == (RefreshSource.GRACE, 1)


# -- provider errors -----------------------------------------------------------------------------


def run_with_followers(coord: Coordinator, provider: Provider,
                       followers: int = 5) -> list[Future[Refreshed]]:
    """The leader and ``followers`` threads on KEY, all of them in before the call returns."""
    pool = ThreadPoolExecutor(followers + 1)
    joined = CallCounter()

    def follow() -> Refreshed:
        joined.increment()
        return coord.refresh(TOKEN, provider)

    futures = [pool.submit(coord.refresh, TOKEN, provider)]
    assert provider.entered.wait(PATIENCE)
    futures += [pool.submit(follow) for _ in range(followers)]
    wait_until(lambda: joined.count == followers)
    provider.release.set()
    pool.shutdown(wait=True)
    return futures


def test_rejection_is_shared_and_remembered_for_the_grace_window(coordinator: Make) -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    rejection = ProviderRejected("Refresh Token has been revoked", "NotAuthorizedException")
    provider = Provider(rejection)
    for future in run_with_followers(coord, provider):
        assert future.exception() is rejection
    with pytest.raises(ProviderRejected) as late:
        coord.refresh(TOKEN, answer())  # a late tab must not retry a token Cognito refused
    # The same answer; from a shared store it is a copy, not the leader's exception object.
    assert type(late.value) is ProviderRejected
    assert (late.value.code, late.value.message) == (rejection.code, rejection.message)
    assert provider.calls.count == 1
    clock.advance(61)
    assert coord.refresh(TOKEN, answer()).source is RefreshSource.PROVIDER


def test_unavailability_is_shared_but_not_remembered(coordinator: Make) -> None:
    coord = coordinator()
    outage = ProviderUnavailable("connect timeout")
    provider = Provider(outage)
    for future in run_with_followers(coord, provider):
        assert future.exception() is outage
    assert provider.calls.count == 1
    # An outage says nothing about the token: the very next request tries again.
    recovered = answer()
    assert coord.refresh(TOKEN, recovered).source is RefreshSource.PROVIDER
    assert recovered.calls.count == 1


# -- sign-out tombstones -------------------------------------------------------------------------


def test_revoke_during_the_call_fails_everyone_and_keeps_no_result(coordinator: Make) -> None:
    clock = ManualClock()
    coord = coordinator(clock, tombstone_ttl=10)
    provider = Provider()
    pool = ThreadPoolExecutor(4)
    futures = [pool.submit(coord.refresh, TOKEN, provider)]
    assert provider.entered.wait(PATIENCE)
    futures += [pool.submit(coord.refresh, TOKEN, provider) for _ in range(3)]
    coord.revoke(KEY)  # sign-out lands while the refresh is at Cognito
    provider.release.set()
    pool.shutdown(wait=True)
    assert all(isinstance(f.exception(), SignedOut) for f in futures)
    assert provider.calls.count == 1
    assert coord.is_revoked(KEY)
    with pytest.raises(SignedOut):
        coord.refresh(TOKEN, answer())
    # Once the tombstone is gone (10 s here, well inside the 60 s grace window), a stored result
    # would answer GRACE; the provider being asked shows the revoked tokens were never kept.
    clock.advance(11)
    assert not coord.is_revoked(KEY)
    assert coord.refresh(TOKEN, answer()).source is RefreshSource.PROVIDER


def test_revoke_discards_a_stored_result(coordinator: Make) -> None:
    coord = coordinator()
    coord.refresh(TOKEN, answer())
    coord.revoke(KEY)
    with pytest.raises(SignedOut) as raised:
        coord.refresh(TOKEN, answer())
    # Our own tombstone, not the provider's word (callers clear the request on it).
    assert isinstance(raised.value, SignedOut)
    assert not isinstance(raised.value, ProviderRejected)


def test_tombstone_expires_after_its_ttl(coordinator: Make) -> None:
    clock = ManualClock()
    coord = coordinator(clock)
    asyncio.run(coord.arevoke(KEY))
    assert coord.is_revoked(KEY)
    assert not coord.is_revoked(token_digest("someone else"))
    clock.advance(86_401)
    assert not coord.is_revoked(KEY)


# -- cancellation --------------------------------------------------------------------------------


def test_cancelled_leader_does_not_hang_its_followers(coordinator: Make) -> None:
    coord = coordinator()
    never = asyncio.Event()
    calls = CallCounter()

    async def stuck_call() -> TokenSet:
        calls.increment()
        await never.wait()
        raise AssertionError("unreachable")

    async def scenario() -> tuple[BaseException | Refreshed, ...]:
        leader = asyncio.create_task(coord.arefresh(TOKEN, stuck_call))
        await asyncio.sleep(0)
        followers = [asyncio.create_task(coord.arefresh(TOKEN, stuck_call)) for _ in range(5)]
        while calls.count == 0:  # a shared store is asked first: cancel during the call itself
            await asyncio.sleep(0.001)
        leader.cancel()
        results = await asyncio.wait_for(
            asyncio.gather(leader, *followers, return_exceptions=True), PATIENCE)
        return tuple(results)

    leader_result, *follower_results = asyncio.run(scenario())
    assert isinstance(leader_result, asyncio.CancelledError)
    assert all(isinstance(r, ProviderUnavailable) for r in follower_results)
    assert calls.count == 1
    # Nothing was settled: the next request asks the provider.
    assert coord.refresh(TOKEN, answer()).source is RefreshSource.PROVIDER


def test_follower_thread_waits_on_an_async_leader(coordinator: Make) -> None:
    coord = coordinator()
    provider = Provider()

    async def leader() -> Refreshed:
        return await coord.arefresh(TOKEN, provider.acall)

    def run_leader() -> Refreshed:
        return asyncio.run(leader())

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run_leader)
        assert provider.entered.wait(PATIENCE)
        second = pool.submit(coord.refresh, TOKEN, provider)
        wait_until(second.running)
        provider.release.set()
        results = [first.result(PATIENCE), second.result(PATIENCE)]
    assert provider.calls.count == 1
    assert results[0].source is RefreshSource.PROVIDER
    assert results[1].source in {RefreshSource.COALESCED, RefreshSource.GRACE}


def test_a_rotated_refresh_token_is_remembered_as_superseded(coordinator: Make) -> None:
    """A later "no" for the old token then comes from a stale tab, not the end of the session."""
    clock = ManualClock()
    coord = coordinator(clock)
    coord.refresh(TOKEN, answer())  # TOKENS carries a different ("rotated") refresh token

    clock.advance(coord.grace_period + 1)  # past the grace window: the result itself is gone

    assert coord.is_superseded(KEY)
    assert not coord.is_superseded(token_digest(TOKENS.refresh_token))
    clock.advance(coord.superseded_ttl)
    assert not coord.is_superseded(KEY)


def test_a_refresh_without_rotation_supersedes_nothing(coordinator: Make) -> None:
    coord = coordinator()
    same = TokenSet("access", "id", TOKEN)

    coord.refresh(TOKEN, answer(same))

    assert not coord.is_superseded(KEY)
