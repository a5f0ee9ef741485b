"""Bounded waits: an upper bound for every wait of the suite, never a timing claim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Upper bound for every wait in this suite: generous for two noisy cores, never a timing claim.
WAIT = 15.0


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` while letting the event loop run; bounded, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)
