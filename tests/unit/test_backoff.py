"""The retry schedule and the keys resting after a failed call (``_core.backoff``): pure, on
the time each question is asked at."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssrauth import Backoff
from ssrauth._core.backoff import Cooldowns, retry_after


def test_the_delay_doubles_per_failure_up_to_its_cap() -> None:
    backoff = Backoff(first=0.5, cap=8.0)

    assert [backoff.delay(n) for n in range(0, 8)] == [0.0, 0.5, 1, 2, 4, 8, 8, 8]


@given(st.floats(0.001, 100), st.floats(0, 1000), st.integers(1, 10_000))
def test_a_delay_never_exceeds_the_cap_nor_shrinks(first: float, extra: float, n: int) -> None:
    backoff = Backoff(first=first, cap=first + extra)

    assert first <= backoff.delay(n) <= backoff.cap
    assert backoff.delay(n) <= backoff.delay(n + 1)


@pytest.mark.parametrize(("first", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_a_backoff_that_cannot_work_is_refused(first: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first=first, cap=cap)


def test_a_key_rests_longer_after_each_failure_in_a_row_and_starts_over_after_an_answer() -> None:
    resting = Cooldowns(Backoff(first=2.0, cap=30.0))

    assert resting.remaining(b"token", 100.0) == 0.0
    assert resting.failed(b"token", 100.0) == 2.0
    assert resting.remaining(b"token", 101.0) == 1.0
    assert resting.remaining(b"other", 101.0) == 0.0  # per key
    assert resting.remaining(b"token", 102.0) == 0.0
    assert resting.failed(b"token", 102.0) == 4.0
    resting.succeeded(b"token")
    assert resting.remaining(b"token", 102.0) == 0.0
    assert resting.failed(b"token", 110.0) == 2.0


def test_a_full_table_forgets_its_oldest_key_first() -> None:
    resting = Cooldowns(Backoff(first=5.0, cap=5.0), size=2)
    for key in (b"a", b"b", b"c"):
        resting.failed(key, 0.0)

    assert [resting.remaining(key, 0.0) for key in (b"a", b"b", b"c")] == [0.0, 5.0, 5.0]


@pytest.mark.parametrize(("seconds", "header"), [(0.0, 1), (0.2, 1), (2.0, 2), (2.01, 3)])
def test_retry_after_is_whole_seconds_never_early(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header
