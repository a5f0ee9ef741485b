"""Retrying without hammering: a delay schedule (:class:`Backoff`) and the keys resting after a
call that failed (:class:`Cooldowns`). Pure: every method takes the time it is asked at, so a
test's ``ManualClock`` drives it and no method sleeps.

Two edges use them. The JWKS fetch (``_providers.jwks``) retries a failed fetch after 0.5 s,
1 s, 2 s … instead of serving every signed-in request as "unavailable" until a long refetch
interval ends. A refresh whose provider call timed out (``_manager``) rests its refresh token:
the provider may still be working on the call we gave up on, and every request that arrives in
the meantime would otherwise start another one (a 6 s provider against a 5 s timeout made two
or three calls per token). Both follow the shape of AWS's "exponential backoff" guidance (the
delay doubles per consecutive failure, up to a cap), without jitter: the waiters are requests
that arrive at their own times, not clients retrying in lockstep.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

from .memo import Memo

__all__ = ["Backoff", "Cooldowns", "retry_after"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """The delay after the ``n``-th consecutive failure: ``first * 2 ** (n - 1)``, at most
    ``cap`` seconds.

    >>> [Backoff(first=0.5, cap=4.0).delay(n) for n in range(1, 6)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """

    first: float
    cap: float

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError("a backoff needs 0 < first <= cap")

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        # 2 ** 64 overflows nothing in float and is past any cap: bound the exponent anyway.
        return min(self.cap, self.first * 2.0 ** min(failures - 1, 64))


class Cooldowns:
    """Keys resting after a failed call: until when, and after how many failures in a row.

    Bounded (``size`` entries, oldest first out, like every core cache): forgetting a key only
    means its next request may call again, never a wrong answer.
    """

    def __init__(self, backoff: Backoff, size: int = 4096) -> None:
        self.backoff = backoff
        self._resting: Memo[Hashable, tuple[float, int]] = Memo(size)

    def remaining(self, key: Hashable, now: float) -> float:
        """Seconds ``key`` still rests (0.0: it may be called)."""
        entry = self._resting.get(key)
        return 0.0 if entry is None else max(0.0, entry[0] - now)

    def failed(self, key: Hashable, now: float) -> float:
        """Record a failure of ``key``'s call at ``now``; answers how long it rests."""
        entry = self._resting.get(key)
        failures = 1 if entry is None else entry[1] + 1
        delay = self.backoff.delay(failures)
        self._resting.put(key, (now + delay, failures))
        return delay

    def succeeded(self, key: Hashable) -> None:
        """A call answered: the next failure starts the schedule over."""
        self._resting.pop(key)


def retry_after(seconds: float) -> int:
    """Whole seconds for a ``Retry-After`` header (RFC 9110 §10.2.3: a non-negative integer),
    rounded up so a client that obeys it never comes back early; at least 1."""
    return max(1, math.ceil(seconds))
