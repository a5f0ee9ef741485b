"""A store of one's own, written against ``ssrauth``'s public API only: docs/extending.md's
``MemoryStore``, run as the page shows it. test_contract.py runs the coordinator contract over it
beside SQLite and Redis; here, what the page promises beyond the contract: nothing private is
needed, two coordinators over one store share one provider call, and a manager built the way the
page builds it refreshes once through the store and closes it."""

from __future__ import annotations

import ast
import threading
from concurrent.futures import ThreadPoolExecutor

from ssrauth import (
    Answer,
    Claimed,
    ManualClock,
    Op,
    RefreshSource,
    SharedCoordinator,
    Store,
    TokenSet,
)
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST, PASSWORD
from tests.doc_examples import extending_doc_blocks

from .stores import documented_store

TOKEN = "refresh-token-of-alice"
TOKENS = TokenSet("access", "id", "rotated-refresh")
PATIENCE = 10.0


def test_the_documented_store_imports_nothing_private() -> None:
    imported: list[str] = []
    for block in extending_doc_blocks("## A store"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom):
                imported.append(node.module or "")
            elif isinstance(node, ast.Import):
                imported += [alias.name for alias in node.names]
    assert "ssrauth" in imported
    assert all(name in ("ssrauth", "threading") for name in imported), imported


class CountingBusy:
    """Passes operations on to the store, counting the claims it answered ``BUSY``."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.busy = threading.Event()

    def run(self, op: Op) -> Answer:
        answer = self.inner.run(op)
        if answer is Claimed.BUSY:
            self.busy.set()
        return answer

    async def arun(self, op: Op) -> Answer:
        return self.run(op)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_two_processes_over_the_documented_store_share_one_provider_call() -> None:
    """Two coordinators are two processes: nothing in-process joins them, only the store's
    lease. The second waits for the first's lease, then reuses its sealed result."""
    store = CountingBusy(documented_store().MemoryStore())
    clock = ManualClock()
    first, second = (SharedCoordinator(store, clock=clock) for _ in range(2))
    calls: list[str] = []
    released = threading.Event()

    def provider() -> TokenSet:
        calls.append(TOKEN)
        assert released.wait(PATIENCE), "the test never released the provider call"
        return TOKENS

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(first.refresh, TOKEN, provider)
        follower = pool.submit(second.refresh, TOKEN, provider)
        assert store.busy.wait(PATIENCE), "the follower never met the leader's lease"
        released.set()
        results = [leader.result(PATIENCE), follower.result(PATIENCE)]

    assert calls == [TOKEN]
    assert [r.tokens for r in results] == [TOKENS, TOKENS]
    assert sorted(r.source.value for r in results) == sorted(
        [RefreshSource.PROVIDER.value, RefreshSource.COALESCED.value])


def test_managers_built_as_documented_refresh_once_through_the_store(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    page = documented_store()
    store = page.MemoryStore()
    with page.manager_over(store, emulator.config(), clock) as one, \
            page.manager_over(store, emulator.config(), clock) as other:
        signing_in = one.load("", "/", HOST)
        signing_in.sign_in("alice", PASSWORD)
        header = "; ".join(line.split(";")[0] for line in signing_in.set_cookie_headers())
        clock.advance(3600)
        emulator.reset_calls()

        refreshed = one.load(header, "/", HOST)
        late = other.load(header, "/", HOST)  # another process, same expired cookies

    assert refreshed.session is not None
    assert late.session is not None
    assert late.session.access_token == refreshed.session.access_token
    assert emulator.refresh_calls() == 1
