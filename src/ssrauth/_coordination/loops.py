"""Clients that belong to one event loop (an ``httpx.AsyncClient`` pool, a ``redis.asyncio``
client): one per loop, each closed on its own loop.

An asyncio transport can only be closed by the loop that made it; closed anywhere else (or
garbage-collected after its loop closed) it leaks its socket with a ``ResourceWarning``. Apps
meet many loops: asgiref's ``async_to_sync`` (Django under WSGI) and ``asyncio.run`` start one
per call. So each client is tied to its loop's own shutdown: a started async generator whose
``finally`` closes it is registered with the loop (the ``firstiter`` hook every running loop
installs), and ``asyncio.run``, ``asyncio.Runner`` and asgiref close every such generator, on
that loop, before closing it (``loop.shutdown_asyncgens()``). :meth:`PerLoop.aclose` and
:meth:`PerLoop.close` close the clients of loops still alive the same way, earlier.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")

#: How long a blocking ``close`` waits for a loop in another thread to close its client.
_CLOSE_TIMEOUT = 5.0
#: Closings scheduled by a blocking ``close`` on the loop that called it, until they ran.
_closing: set[asyncio.Task[None]] = set()


class PerLoop(Generic[T]):
    """One ``T`` per running event loop, made on first use, closed on that loop."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], Awaitable[object]]) -> None:
        self._make = make
        self._close = close
        self._held: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}
        self._lock = threading.Lock()  # loops in several threads may come at once

    def __len__(self) -> int:
        return len(self._held)

    def get(self) -> T:
        """This loop's client (called from a coroutine running on it)."""
        loop = asyncio.get_running_loop()
        held = self._held.get(loop)
        if held is not None:
            return held[0]
        client = self._make()
        closer = self._closing_at_shutdown(loop, client)
        with contextlib.suppress(StopIteration):
            # Runs it up to its yield: the loop's firstiter hook now holds it (weakly: we keep
            # it alive in _held until it ran).
            closer.asend(None).send(None)
        with self._lock:
            for dead in [old for old in self._held if old.is_closed()]:
                # Closed without shutdown_asyncgens (a bare loop.close()): nothing can close
                # these any more; once unreachable, the garbage collector shuts their sockets.
                del self._held[dead]
            self._held[loop] = (client, closer)
        return client

    async def aclose(self) -> None:
        """Close every client: this loop's here, the others' on their own loops."""
        current = asyncio.get_running_loop()
        for loop, closer in self._take():
            if loop is current:
                await closer.aclose()
            else:
                _close_elsewhere(loop, closer)

    def close(self) -> None:
        """Close every client whose loop can still run its closing (from outside those loops)."""
        for loop, closer in self._take():
            _close_elsewhere(loop, closer)

    def _take(self) -> list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]]:
        with self._lock:
            held, self._held = self._held, {}
        return [(loop, closer) for loop, (_, closer) in held.items()]

    async def _closing_at_shutdown(
        self, loop: asyncio.AbstractEventLoop, client: T
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if self._held.get(loop, (None,))[0] is client:
                    del self._held[loop]
            await self._close(client)


def _close_elsewhere(loop: asyncio.AbstractEventLoop, closer: AsyncGenerator[None, None]) -> None:
    """Run ``closer`` to its end on ``loop``, if that loop can still run anything."""
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop.is_running() and loop is not running:  # serving in another thread: ask it
        future = asyncio.run_coroutine_threadsafe(_finish(closer), loop)
        with contextlib.suppress(Exception):
            future.result(_CLOSE_TIMEOUT)
    elif loop is running:  # a blocking close called from this loop's own code
        task = loop.create_task(_finish(closer))
        _closing.add(task)  # the loop holds tasks weakly
        task.add_done_callback(_closing.discard)
    elif running is None:  # idle (between run_until_complete calls): run it there
        loop.run_until_complete(_finish(closer))
    # else: idle, and this thread runs another loop; its shutdown_asyncgens will close it.


async def _finish(closer: AsyncGenerator[None, None]) -> None:
    await closer.aclose()
