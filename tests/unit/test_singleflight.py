"""SingleFlight: one call per key at a time, its outcome shared with every thread and task that
asked meanwhile, errors shared too (cancellation excepted), and the key free again afterwards.

The leader is held inside its call until every follower has joined its flight (counted, never
guessed with a sleep), so "one call" is what the code guarantees, not what the timing allowed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from ssrauth import ProviderRejected, ProviderUnavailable
from ssrauth._coordination.singleflight import SingleFlight, _Flight

#: Upper bound for every wait here: generous for two noisy cores, never a timing claim.
WAIT = 15.0


class Leader:
    """A call that counts its runs and holds until the test lets it finish."""

    def __init__(self, result: str = "tokens", error: BaseException | None = None) -> None:
        self.runs = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.result, self.error = result, error

    def __call__(self) -> str:
        self.runs += 1
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the leader"
        if self.error is not None:
            raise self.error
        return self.result

    async def acall(self) -> str:
        self.runs += 1
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.001)
        if self.error is not None:
            raise self.error
        return self.result


class CountingFlight(SingleFlight[str]):
    """A SingleFlight that counts callers joining a flight, so a test can release the leader
    only once every follower is known to be waiting on it (no sleeps)."""

    def __init__(self, wait_timeout: float = WAIT) -> None:
        super().__init__(wait_timeout)
        self.joined = 0
        self._count_lock = threading.Lock()

    def _join(self, key: Hashable) -> tuple[_Flight[str], bool]:
        joined = super()._join(key)
        with self._count_lock:
            self.joined += 1
        return joined

    def wait_for_joined(self, count: int) -> None:
        pause = threading.Event()
        for _ in range(int(WAIT * 1000)):
            if self.joined >= count:
                return
            pause.wait(0.001)
        raise AssertionError(f"{self.joined} of {count} callers joined")

    async def ajoined(self, count: int) -> None:
        for _ in range(int(WAIT * 1000)):
            if self.joined >= count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{self.joined} of {count} callers joined")

    def in_flight(self, key: str) -> bool:
        return key in self._flights


def lead_in_thread(pool: ThreadPoolExecutor, flight: SingleFlight[str],
                   leader: Leader, key: str = "k") -> Future[tuple[str, bool]]:
    """A thread that leads ``key``'s flight, held inside ``leader`` until released."""
    led = pool.submit(flight.run, key, leader)
    assert leader.entered.wait(WAIT)
    return led


async def lead_in_task(
    flight: SingleFlight[str], leader: Leader
) -> asyncio.Future[tuple[str, bool]]:
    """A task that leads the flight of "k", held inside ``leader`` until released."""
    led = asyncio.ensure_future(flight.arun("k", leader.acall))
    while not leader.entered.is_set():
        await asyncio.sleep(0.001)
    return led


def test_threads_on_one_key_share_one_call() -> None:
    flight = CountingFlight()
    leader = Leader()
    with ThreadPoolExecutor(8) as pool:
        first = lead_in_thread(pool, flight, leader)
        followers = [pool.submit(flight.run, "k", leader) for _ in range(7)]
        flight.wait_for_joined(8)
        leader.release.set()
        answers = [first.result(WAIT)] + [f.result(WAIT) for f in followers]
    assert leader.runs == 1
    assert answers == [("tokens", True)] + [("tokens", False)] * 7


def test_tasks_on_one_key_share_one_call() -> None:
    flight = CountingFlight()
    leader = Leader()

    async def scenario() -> list[tuple[str, bool]]:
        first = await lead_in_task(flight, leader)
        followers = [asyncio.ensure_future(flight.arun("k", leader.acall)) for _ in range(20)]
        await flight.ajoined(21)
        leader.release.set()
        return await asyncio.gather(first, *followers)

    answers = asyncio.run(scenario())
    assert leader.runs == 1
    assert answers == [("tokens", True)] + [("tokens", False)] * 20


def test_a_task_waits_on_a_threads_call() -> None:
    """An ASGI request may follow a WSGI thread's refresh: completion crosses to its loop."""
    flight = CountingFlight()
    leader = Leader()
    with ThreadPoolExecutor(1) as pool:
        first = lead_in_thread(pool, flight, leader)

        async def follow() -> tuple[str, bool]:
            task = asyncio.ensure_future(flight.arun("k", leader.acall))
            await flight.ajoined(2)
            leader.release.set()
            return await task

        assert asyncio.run(follow()) == ("tokens", False)
        assert first.result(WAIT) == ("tokens", True)
    assert leader.runs == 1


def test_different_keys_do_not_share() -> None:
    """While key a's call is held, key b runs (and finishes) a call of its own."""
    flight = CountingFlight()
    first, second = Leader("a"), Leader("b")
    second.release.set()
    with ThreadPoolExecutor(1) as pool:
        held = lead_in_thread(pool, flight, first, "a")
        assert flight.run("b", second) == ("b", True)
        first.release.set()
        assert held.result(WAIT) == ("a", True)
    assert (first.runs, second.runs) == (1, 1)


def test_the_leaders_error_is_raised_to_every_follower() -> None:
    flight = CountingFlight()
    rejected = ProviderRejected("refresh token revoked", "NotAuthorizedException")
    leader = Leader(error=rejected)
    with ThreadPoolExecutor(4) as pool:
        first = lead_in_thread(pool, flight, leader)
        followers = [pool.submit(flight.run, "k", leader) for _ in range(3)]
        flight.wait_for_joined(4)
        leader.release.set()
        errors = [f.exception(WAIT) for f in [first, *followers]]
    assert leader.runs == 1
    assert all(error is rejected for error in errors)


def test_a_cancelled_leader_gives_its_followers_unavailable_not_its_cancellation() -> None:
    """Cancellation belongs to the leader's request (a client that went away); the others are
    told the refresh could not be made, which keeps their cookies."""
    flight = CountingFlight()
    leader = Leader()

    async def scenario() -> object:
        first = await lead_in_task(flight, leader)
        follower = asyncio.ensure_future(flight.arun("k", leader.acall))
        await flight.ajoined(2)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return (await asyncio.gather(follower, return_exceptions=True))[0]

    error = asyncio.run(scenario())
    assert isinstance(error, ProviderUnavailable)
    assert not flight.in_flight("k")


def test_a_follower_gives_up_as_unavailable_after_its_wait_timeout() -> None:
    flight = CountingFlight(wait_timeout=0.05)
    leader = Leader()
    with ThreadPoolExecutor(1) as pool:
        first = lead_in_thread(pool, flight, leader)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            flight.run("k", leader)

        async def follow() -> tuple[str, bool]:
            return await flight.arun("k", leader.acall)

        with pytest.raises(ProviderUnavailable, match="timed out"):
            asyncio.run(follow())
        leader.release.set()
        assert first.result(WAIT) == ("tokens", True)
    assert leader.runs == 1


def test_the_key_is_released_after_success_and_after_failure() -> None:
    flight = CountingFlight()
    assert flight.run("k", lambda: "first") == ("first", True)
    assert not flight.in_flight("k")
    with pytest.raises(ProviderUnavailable):
        flight.run("k", _down)
    assert not flight.in_flight("k")
    # The next caller leads a new flight: nothing of the earlier outcomes is remembered.
    assert flight.run("k", lambda: "second") == ("second", True)

    async def again() -> tuple[str, bool]:
        async def third() -> str:
            return "third"

        return await flight.arun("k", third)

    assert asyncio.run(again()) == ("third", True)
    assert not flight.in_flight("k")


def _down() -> str:
    raise ProviderUnavailable("connection refused")
