"""In-process single flight for threads and asyncio tasks alike.

The first caller of a key runs the work; every caller that arrives while it runs waits for the
same result or exception. Waiters may be threads (WSGI, Django) or tasks on any event loop
(ASGI), so completion is published through a thread-safe event and ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from .._core.errors import ProviderUnavailable

__all__ = ["SingleFlight"]

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("done", "error", "result", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class SingleFlight(Generic[T]):
    """Run at most one call per key at a time; share its outcome with everyone who asked."""

    def __init__(self, wait_timeout: float) -> None:
        #: How long a waiter waits for the leader before giving up as "unavailable".
        self.wait_timeout = wait_timeout
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}

    def _join(self, key: Hashable) -> tuple[_Flight[T], bool]:
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight()
            return flight, True

    def _finish(
        self, key: Hashable, flight: _Flight[T], result: T | None, error: BaseException | None
    ) -> None:
        with self._lock:
            self._flights.pop(key, None)
            flight.result, flight.error = result, error
            flight.done.set()
            waiters, flight.waiters = flight.waiters, []
        for loop, future in waiters:
            # A waiter whose event loop has shut down is gone; the others must still hear.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    def run(self, key: Hashable, call: Callable[[], T]) -> tuple[T, bool]:
        """Blocking form. Returns (result, ran_it_myself)."""
        flight, leader = self._join(key)
        if leader:
            try:
                result = call()
            except BaseException as error:
                self._finish(key, flight, None, _shareable(error))
                raise
            self._finish(key, flight, result, None)
            return result, True
        if not flight.done.wait(self.wait_timeout):
            raise ProviderUnavailable("timed out waiting for a refresh in another request")
        return flight.outcome(), False

    async def arun(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """Async form. Returns (result, ran_it_myself)."""
        flight, leader = self._join(key)
        if leader:
            try:
                result = await call()
            except BaseException as error:
                self._finish(key, flight, None, _shareable(error))
                raise
            self._finish(key, flight, result, None)
            return result, True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if not flight.done.is_set():
                flight.waiters.append((loop, future))
            else:
                future.set_result(None)
        try:
            await asyncio.wait_for(future, self.wait_timeout)
        except TimeoutError:
            raise ProviderUnavailable(
                "timed out waiting for a refresh in another request"
            ) from None
        return flight.outcome(), False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _shareable(error: BaseException) -> BaseException:
    """Waiters get the leader's error, except cancellation, which belongs to the leader only."""
    if isinstance(error, Exception):
        return error
    return ProviderUnavailable("the request doing the refresh was cancelled")
