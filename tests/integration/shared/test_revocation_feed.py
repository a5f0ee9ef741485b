"""Sign-out across processes without a store round trip per request: each process follows the
store's feed of tombstones and answers "signed out?" from memory while that feed is fresh.

What is promised (docs/configuration.md, "The coordinator"): a signed-in request asks the store
nothing; a sign-out in one worker is in force in every other within ``propagation_delay``; a
tombstone a worker has seen stays in force while the store is down; a sign-out taken while the
store is down reaches it when it returns; and a response that would write cookies asks the store
itself first, so it never re-creates a session signed out a moment before.

Real worker processes (workers.py) on SQLite and Redis, against moto; the outage is a store that
fails on command (``SwitchedStore``: a file the test creates and removes).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssrauth import ManualClock, SessionManager, SharedCoordinator
from ssrauth._coordination.revocations import DEFAULT_PROPAGATION_DELAY
from ssrauth._coordination.store import (
    Answer,
    IsMarked,
    Mark,
    Op,
    RevokedSince,
    Store,
    StoreUnavailable,
)
from ssrauth._core.tokens import token_digest
from ssrauth.emulator import CognitoEmulator
from tests.accounts import HOST
from tests.browser_jar import BrowserJar
from tests.integration.rig.cookies import auth_cookies

from .stores import StoreSpec
from .workers import (
    PATIENCE,
    Site,
    Workers,
    refresh_token_of,
    signed_in,
    warm_up,
    writes_session,
)


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    pool = Workers(3)
    yield pool
    pool.stop()


class CountingStore:
    """A real store that counts the operations it is asked, by kind."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.asked: list[str] = []

    def run(self, op: Op) -> Answer:
        self.asked.append(type(op).__name__)
        return self.inner.run(op)

    async def arun(self, op: Op) -> Answer:
        self.asked.append(type(op).__name__)
        return await self.inner.arun(op)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()


def wait_for(predicate: Callable[[], object], what: str) -> None:
    """Bounded poll of a condition another process or thread brings about (never a timing
    claim: the bound is the workers' patience)."""
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_a_signed_in_request_asks_the_store_nothing_once_the_feed_is_fresh(
    store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    header = signed_in(emulator.config(), clock)
    counting = CountingStore(store.store())
    coordinator = SharedCoordinator(counting, clock=clock)
    with SessionManager(emulator.config(), clock=clock, coordinator=coordinator) as manager:
        assert manager.load(header, "/", HOST).session is not None  # starts the feed
        wait_for(coordinator.revocations.is_fresh, "the feed's first complete read")
        counting.asked.clear()

        served = [manager.load(header, "/", HOST) for _ in range(20)]

        assert all(auth.session is not None for auth in served)
        assert all(auth.set_cookie_headers() == [] for auth in served)
        assert "IsMarked" not in counting.asked
        assert set(counting.asked) <= {"RevokedSince"}  # only the feed thread reads


@pytest.mark.anyio
async def test_an_async_signed_in_request_asks_the_store_nothing_once_the_feed_is_fresh(
    store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    header = signed_in(emulator.config(), clock)
    counting = CountingStore(store.store())
    coordinator = SharedCoordinator(counting, clock=clock)
    async with SessionManager(emulator.config(), clock=clock,
                              coordinator=coordinator) as manager:
        assert (await manager.aload(header, "/", HOST)).session is not None
        wait_for(coordinator.revocations.is_fresh, "the feed's first complete read")
        counting.asked.clear()

        served = [await manager.aload(header, "/", HOST) for _ in range(20)]

        assert all(auth.session is not None for auth in served)
        assert set(counting.asked) <= {"RevokedSince"}


def test_a_sign_out_in_one_worker_holds_in_another_after_the_propagation_delay(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    site = Site(emulator.config(), store)
    header = signed_in(site.config, clock)
    for index in (0, 1):  # both serve the session; each follows the feed from then on
        [served] = workers.call(index, "load", site, clock.offset, header, 1, "sync")
        assert served.username == "alice"

    signed_out = workers.call(0, "sign_out", site, clock.offset, header)
    time.sleep(DEFAULT_PROPAGATION_DELAY)  # the documented bound, then the old cookies again
    [replayed] = workers.call(1, "load", site, clock.offset, header, 1, "async")

    assert not writes_session(signed_out)
    assert replayed.username is None
    assert replayed.set_cookie  # the copy of the cookies is cleared...
    assert not writes_session(replayed)  # ...and nothing of the session is written
    assert emulator.refresh_calls() == 0


@dataclass(frozen=True)
class Switched:
    """Alice's session, served by every worker over a store that is down while ``switch``
    exists."""

    site: Site
    header: str
    refresh_token: str
    switch: Path


@pytest.fixture
def switched(workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
             tmp_path: Path) -> Switched:
    switch = tmp_path / "outage"
    site = Site(emulator.config(), store.with_outage_switch(str(switch)))
    header = signed_in(site.config, clock)
    warm_up(workers, site, header, clock)  # each worker now follows the feed
    return Switched(site, header, refresh_token_of(header, site.config), switch)


def test_a_sign_out_made_before_an_outage_holds_in_every_worker_during_it(
    workers: Workers, switched: Switched, emulator: CognitoEmulator, clock: ManualClock,
) -> None:
    site, header, refresh_token, switch = (switched.site, switched.header,
                                           switched.refresh_token, switched.switch)
    workers.call(0, "sign_out", site, clock.offset, header)
    for index in range(len(workers)):  # every worker has seen the tombstone
        wait_for(lambda i=index: workers.call(i, "knows_revoked", site, clock.offset,
                                              refresh_token), f"worker {index}'s feed")

    switch.touch()  # the store is down for every worker
    fresh = [workers.call(i, "load", site, clock.offset, header, 1, "sync")[0]
             for i in range(len(workers))]
    clock.advance(3600)  # and once the tokens expired (a refresh would be tried in-process)
    expired = [workers.call(i, "load", site, clock.offset, header, 1, "async")[0]
               for i in range(len(workers))]

    for served in fresh + expired:
        assert served.username is None
        assert not writes_session(served)
    assert emulator.refresh_calls() == 0


def test_a_sign_out_made_during_an_outage_reaches_the_store_when_it_returns(
    workers: Workers, switched: Switched, store: StoreSpec, emulator: CognitoEmulator,
    clock: ManualClock,
) -> None:
    site, header, switch = switched.site, switched.header, switched.switch
    digest = token_digest(switched.refresh_token)

    switch.touch()
    signed_out = workers.call(0, "sign_out", site, clock.offset, header)
    switch.unlink()  # the store is back: worker 0 writes the sign-out it queued
    bare = store.store()
    try:
        wait_for(lambda: bare.run(IsMarked(Mark.TOMBSTONE, digest, clock.now())) is True,
                 "the queued sign-out in the store")
    finally:
        bare.close()
    time.sleep(DEFAULT_PROPAGATION_DELAY)
    workers.kill(2)  # and a worker started afterwards, that never saw it
    replayed = [workers.call(i, "load", site, clock.offset, header, 1, "sync")[0]
                for i in (1, 2)]
    clock.advance(3600)
    expired = [workers.call(i, "load", site, clock.offset, header, 1, "async")[0]
               for i in (1, 2)]

    assert not writes_session(signed_out)
    for served in replayed + expired:
        assert served.username is None
        assert not writes_session(served)
    assert emulator.refresh_calls() == 0


class FailsFirstReads(CountingStore):
    """A real store whose first feed reads fail, as SQLite answers "database is locked" at
    once while another worker opens a new file."""

    def __init__(self, inner: Store, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def run(self, op: Op) -> Answer:
        if isinstance(op, RevokedSince) and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("busy for a moment")
        return super().run(op)


def test_a_feed_read_that_failed_is_tried_again_at_once_whatever_the_propagation_delay(
    store: StoreSpec, clock: ManualClock
) -> None:
    """The follower's pace is a quarter of the propagation delay (15 minutes at an hour); a
    failed read must not wait that long, or every request asks the store for that long."""
    flaky = FailsFirstReads(store.store(), failures=3)
    coordinator = SharedCoordinator(flaky, clock=clock, propagation_delay=3600.0)
    try:
        coordinator.is_revoked(b"\0" * 32)  # starts the feed
        deadline = time.monotonic() + 5.0
        while not coordinator.revocations.is_fresh():
            assert time.monotonic() < deadline, "the feed waited its pace after a failed read"
            time.sleep(0.02)
        assert flaky.failures == 0
    finally:
        coordinator.close()


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_response_racing_a_sign_out_elsewhere_writes_no_part_of_the_session(
    store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock, face: str
) -> None:
    """The soak's partial resurrection: a request refreshed, another process signed out, and the
    refreshing response then wrote access, id and clockDrift back. Its feed is fresh but cannot
    know yet (it reads once an hour here): the re-check before writing asks the store."""
    header = signed_in(emulator.config(), clock)
    slow_feed = {"propagation_delay": 3600.0}
    here = SessionManager(emulator.config(), clock=clock,
                          coordinator=store.coordinator(clock, **slow_feed))
    elsewhere = SessionManager(emulator.config(), clock=clock,
                               coordinator=store.coordinator(clock, **slow_feed))
    with here, elsewhere:
        assert here.load(header, "/", HOST).session is not None
        assert isinstance(here.coordinator, SharedCoordinator)
        wait_for(here.coordinator.revocations.is_fresh, "the feed's first complete read")
        clock.advance(3600)
        jar = BrowserJar(HOST)
        for pair in header.split("; "):
            jar.seed(*pair.split("=", 1))

        refreshing = here.load(header, "/", HOST)  # refreshed; its response not written yet
        assert refreshing.outcome.tokens is not None
        elsewhere.load(header, "/", HOST).sign_out()
        if face == "sync":
            lines = refreshing.set_cookie_headers()
        else:
            lines = asyncio.run(refreshing.aset_cookie_headers())
        jar.apply(lines)

        assert [line for line in lines if "Max-Age=0" not in line] == []
        assert auth_cookies(jar, emulator.client_id) == []
        assert emulator.refresh_calls() == 1


def test_no_configuration_gives_the_workers_of_one_machine_one_refresh(
    workers: Workers, emulator: CognitoEmulator, clock: ManualClock
) -> None:
    """``SSRAUTH_COORDINATOR`` unset (uvicorn --workers 3 as it comes): one provider call for
    one expiry, every worker answered with the same tokens."""
    site = Site(emulator.config(), StoreSpec("default", ""))
    header = signed_in(site.config, clock)
    warm_up(workers, site, header, clock)  # every worker serves the session, feed started
    clock.advance(3600)

    workers.ask_together("load", *[(site, clock.offset, header, 2, "sync")] * len(workers))
    served = [s for index in range(len(workers)) for s in workers.answer(index)]

    assert all(s.username == "alice" for s in served)
    assert len({s.tokens for s in served}) == 1
    assert emulator.refresh_calls() == 1


def test_a_forked_worker_follows_the_feed_with_a_thread_of_its_own(
    store: StoreSpec, clock: ManualClock
) -> None:
    """gunicorn forks its workers after loading the app: the parent's feed thread is not in the
    child, so the child starts its own and still learns of sign-outs made after the fork."""
    parent = store.coordinator(clock)
    elsewhere = store.coordinator(clock)
    key = token_digest("a refresh token signed out after the fork")
    parent.is_revoked(b"\0" * 32)
    wait_for(parent.revocations.is_fresh, "the parent's feed")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: does it learn of the sign-out through a feed of its own?
        os.close(reader)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and not parent.revocations.knows_revoked(key):
            parent.revocations.is_fresh()  # asked per request: starts a thread once stale
            time.sleep(0.01)
        os.write(writer, b"1" if parent.revocations.knows_revoked(key) else b"0")
        os._exit(0)
    os.close(writer)
    try:
        elsewhere.revoke(key)
        answer = os.read(reader, 1)
    finally:
        os.close(reader)
        os.waitpid(child, 0)
        parent.close()
        elsewhere.close()

    assert answer == b"1"
