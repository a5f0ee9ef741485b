"""The signing-key source (``_providers.jwks.JwksSource``) over an injected key endpoint: when
it fetches, how a failure is retried, and what a flood of made-up key ids costs. The clock is a
``ManualClock``: every interval is a clock step, never a wait."""

from __future__ import annotations

import random

import pytest

from ssrauth import Backoff, JwksSource, ProviderUnavailable
from ssrauth._providers.jwks import DEFAULT_FETCH_RETRY, DEFAULT_REFETCH_INTERVAL, HttpKeys
from tests.unit.factory import KID, NOW, CountingKeys, StoppedClock, pool_key


def source_over(keys: CountingKeys, clock: StoppedClock, **options: object) -> JwksSource:
    return JwksSource(keys, clock=clock, **options)  # type: ignore[arg-type]


def test_a_cold_start_fetches_once_and_known_kids_never_fetch_again() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW)
    source = source_over(keys, clock)

    assert source.wants_fetch(frozenset())
    assert set(source.fetch().keys) == {KID}
    clock.advance(3600)

    assert not source.wants_fetch(frozenset({KID}))
    assert not source.wants_fetch(frozenset())
    assert keys.fetches.count == 1


def test_a_failed_cold_start_is_retried_after_half_a_second_then_one_two_four_eight() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW)
    source = source_over(keys, clock)
    keys.down = True
    waits = []
    for _ in range(6):
        with pytest.raises(ProviderUnavailable) as failure:
            source.fetch()
        assert failure.value is source.last_failure
        wait = 0.0
        while not source.wants_fetch(frozenset({KID})):
            clock.advance(0.25)
            wait += 0.25
        waits.append(wait)

    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    keys.down = False
    source.fetch()
    assert source.last_failure is None
    assert not source.wants_fetch(frozenset({"another-kid"}))  # back on the refetch interval
    clock.advance(DEFAULT_REFETCH_INTERVAL)
    assert source.wants_fetch(frozenset({"another-kid"}))


def test_a_failure_says_when_to_come_back() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW)
    source = source_over(keys, clock, retry=Backoff(first=3.0, cap=10.0))
    keys.down = True

    with pytest.raises(ProviderUnavailable) as first:
        source.fetch()
    with pytest.raises(ProviderUnavailable) as second:
        source.fetch()

    assert (first.value.retry_after, second.value.retry_after) == (3, 6)


def test_an_unknown_kid_refetches_once_per_interval_and_a_rotation_is_picked_up() -> None:
    old, new = pool_key(), pool_key("k2")
    keys, clock = CountingKeys(old), StoppedClock(NOW)
    source = source_over(keys, clock)
    source.fetch()
    keys.publish(old, new)
    clock.advance(1)

    assert not source.wants_fetch(frozenset({"k2"}))  # fetched a second ago
    clock.advance(DEFAULT_REFETCH_INTERVAL - 1)
    assert source.wants_fetch(frozenset({"k2"}))
    assert set(source.fetch().keys) == {KID, "k2"}
    assert keys.fetches.count == 2


def test_a_flood_of_random_kids_costs_one_fetch_per_interval() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW)
    source = source_over(keys, clock)
    source.fetch()
    chance = random.Random(13)

    for _ in range(1000):  # 1000 requests over 10 s, each naming a key nobody has
        clock.advance(0.01)
        kid = f"{chance.getrandbits(64):016x}"
        if source.wants_fetch(frozenset({kid})):
            source.fetch()

    assert keys.fetches.count - 1 <= 10 / DEFAULT_REFETCH_INTERVAL


def test_an_injected_fetcher_that_raises_is_an_outage_not_a_crash() -> None:
    class Broken(CountingKeys):
        def fetch_document(self) -> dict[str, object]:
            raise OSError("disk on fire")

    source = source_over(Broken(), StoppedClock(NOW))

    with pytest.raises(ProviderUnavailable, match="OSError"):
        source.fetch()
    assert source.last_failure is not None


@pytest.mark.anyio
async def test_the_async_face_fetches_the_same_keys() -> None:
    keys = CountingKeys()
    source = source_over(keys, StoppedClock(NOW))

    assert set((await source.afetch()).keys) == {KID}
    assert keys.fetches.count == 1


def test_what_a_source_was_given_survives_attaching_it_to_a_config() -> None:
    keys, clock = CountingKeys(), StoppedClock(NOW)
    source = JwksSource(keys, clock=clock, accepted=("RS256", "ES256"))

    source.attach("https://other.example/jwks.json", accepted=("RS256",), timeout=9.0,
                  clock=StoppedClock(0))
    source.fetch()
    clock.advance(DEFAULT_REFETCH_INTERVAL)  # its own clock, not the config's

    assert source.accepted == ("RS256", "ES256")
    assert keys.fetches.count == 1  # its own keys, not the config's URL
    assert source.wants_fetch(frozenset({"k2"}))


def test_a_bare_source_takes_the_config_location_and_timeout() -> None:
    source = JwksSource(refetch_interval=30.0)
    source.attach("https://pool.example/jwks.json", accepted=("RS256",), timeout=2.0,
                  clock=StoppedClock(NOW))

    assert source.refetch_interval == 30.0
    assert source.accepted == ("RS256",)
    assert source.retry == DEFAULT_FETCH_RETRY
    assert isinstance(source.fetcher, HttpKeys)
    assert (source.fetcher.location, source.fetcher.timeout) == (
        "https://pool.example/jwks.json", 2.0)
