"""On an event loop, a shared coordinator's per-request reads go through the store's async face.

``is_revoked`` is asked on every request that carries a session; answered with a blocking store
call, it would hold the whole event loop for a Redis round trip on every page view. The store
below fails any blocking call, so these tests fail if ``aload`` ever makes one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ssrauth import ManualClock, SessionManager
from ssrauth._coordination.shared import SharedCoordinator
from ssrauth._coordination.sqlite import SqliteStore
from ssrauth._coordination.store import Answer, Op
from ssrauth.emulator import CognitoEmulator
from tests.browser_jar import BrowserJar
from tests.conftest import HOST, PASSWORD


class AsyncOnlyStore:
    """A real SQLite store that refuses its blocking face."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.async_calls = 0

    def run(self, op: Op) -> Answer:
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
