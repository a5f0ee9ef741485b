"""On an event loop, a shared coordinator's per-request reads go through the store's async face.

``is_revoked`` is asked on every request that carries a session; answered with a blocking store
call, it would hold the whole event loop for a Redis round trip on every page view. The store
below fails any blocking call, so these tests fail if ``aload`` ever makes one. And a WSGI app
that runs async code per request meets a new event loop each time: the store's async clients of
closed loops must go with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from ssrauth import ManualClock, SessionManager
from ssrauth._coordination.redis import RedisStore
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth._coordination.sqlite import SqliteStore
from ssrauth._coordination.store import Answer, Op
from ssrauth._core.tokens import token_digest
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar

from .stores import REDIS_URL, StoreSpec

KEY = token_digest("refresh-token-of-alice")


class AsyncOnlyStore:
    """A real SQLite store that refuses its blocking face on an event loop (the revocation
    feed's own thread may use it: it holds no loop)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.async_calls = 0

    def run(self, op: Op) -> Answer:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread
            return self.inner.run(op)
        raise AssertionError(f"blocking store call on the event loop: {op!r}")

    async def arun(self, op: Op) -> Answer:
        self.async_calls += 1
        return await self.inner.arun(op)


def test_aload_reads_tombstones_through_the_async_store(
    emulator: CognitoEmulator, clock: ManualClock, tmp_path: Path
) -> None:
    # Signed in on another worker of the same app.
    auth = SessionManager(emulator.config(), clock=clock).load("", "/", HOST)
    auth.sign_in("alice", PASSWORD)
    jar = BrowserJar(HOST)
    jar.apply(auth.set_cookie_headers())
    header = jar.cookie_header("/")

    store = AsyncOnlyStore(SqliteStore(tmp_path / "ssrauth.db"))
    manager = SessionManager(emulator.config(), clock=clock,
                             coordinator=SharedCoordinator(store, clock=clock))

    async def scenario() -> None:
        first = await manager.aload(header, "/", HOST)
        assert first.session is not None
        reads = store.async_calls
        assert reads >= 1  # the tombstone read was made, asynchronously

        await (await manager.aload(header, "/", HOST)).asign_out()
        again = await manager.aload(header, "/orders", HOST)
        assert again.session is None
        assert store.async_calls > reads

    asyncio.run(scenario())


def test_redis_clients_of_closed_event_loops_are_let_go(
    new_store: Callable[[str], StoreSpec],
) -> None:
    """A WSGI app that runs async code per request (asgiref's async_to_sync, asyncio.run) sees
    a new event loop every time. A client per loop kept in a WeakKeyDictionary never went: its
    connections hold the loop, so the key stayed alive, with an open socket per request."""
    coord = new_store("redis").coordinator(ManualClock())
    coord.revocations.close()  # no feed: every request asks the store through a loop's client
    before = _sockets()
    assert isinstance(coord.store, RedisStore)
    for _ in range(12):
        assert not asyncio.run(coord.ais_revoked(KEY))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the dead loops' unclosed sockets
        gc.collect()
    assert len(coord.store._loop_clients) <= 1
    assert _sockets() - before <= 1, REDIS_URL


def _sockets() -> int:
    """How many sockets this process has open."""
    found = 0
    for fd in os.listdir(f"/proc/{os.getpid()}/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
            found += os.readlink(f"/proc/{os.getpid()}/fd/{fd}").startswith("socket:")
    return found
