"""Several server processes, one session: the shared coordinators (SQLite file, Redis) keep the
product's promises across OS processes, against moto's Cognito API on loopback.

Each worker is a real process with its own SessionManager and coordinator on the test's store
(workers.py). Between them and moto sits a loopback proxy in this process that can hold refresh
calls on the wire (and, for rotation, adds Cognito's rotation rules; see test_rotation.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ssrauth import CognitoConfig, ManualClock
from ssrauth._core.tokens import token_digest
from ssrauth.emulator import CognitoEmulator
from tests.accounts import PASSWORD
from tests.integration.rig.outages import FlakyCognito
from tests.integration.rig.rotation import RotatingCognito
from tests.integration.rig.waiting import WAIT

from .stores import StoreSpec
from .workers import Site, Workers, refresh_token_of, signed_in, warm_up, writes_session

_TARGET = "AWSCognitoIdentityProviderService."


class HeldCognito(FlakyCognito):
    """Holds refresh calls on their way to moto until :meth:`open`; ``drop`` answers the held
    ones with a 503 instead of forwarding them (their caller is dead)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.opened = threading.Event()
        self.held = 0
        self.dropping = False
        self._lock = threading.Lock()

    def answer(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = headers["x-amz-target"] or ""
        refresh = target == _TARGET + "GetTokensFromRefreshToken" or (
            target == _TARGET + "InitiateAuth" and b"REFRESH_TOKEN_AUTH" in body)
        if refresh and not self.opened.is_set():
            with self._lock:
                self.held += 1
            self.opened.wait(WAIT)
            if self.dropping:
                return 503, {"content-type": "text/plain"}, b"dropped by the test"
        return super().answer(headers, body)

    def open(self, *, drop: bool = False) -> None:
        self.dropping = drop
        self.opened.set()

    def wait_held(self, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT
        while self.held < count:
            assert time.monotonic() < deadline, "no refresh call reached the provider"
            time.sleep(0.01)


class HeldRotatingCognito(HeldCognito, RotatingCognito):
    pass


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    pool = Workers(4)
    yield pool
    pool.stop()


@pytest.fixture
def proxy(emulator: CognitoEmulator) -> Iterator[HeldCognito]:
    server = HeldCognito(emulator.url).start()
    yield server
    server.stop()


def proxied(emulator: CognitoEmulator, server: FlakyCognito) -> CognitoConfig:
    direct = emulator.config()
    return direct.with_changes(endpoint_url=server.url, jwks_url=direct.jwks_url)


def test_a_refresh_storm_across_processes_makes_one_provider_call(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
    proxy: HeldCognito,
) -> None:
    """Four processes, three concurrent requests each (tasks in two, threads in two), all with
    the same expired cookies, released together: one refresh, the same tokens for all."""
    site = Site(proxied(emulator, proxy), store)
    header = signed_in(site.config, clock)
    old_refresh = refresh_token_of(header, site.config)
    warm_up(workers, site, header, clock)
    clock.advance(3600)

    workers.ask_together("load", *[(site, clock.offset, header, 3, ("async", "sync")[i % 2])
                                   for i in range(len(workers))])
    proxy.wait_held()  # one leader's call is on the wire; everyone else waits on the store
    proxy.open()
    served = [s for i in range(len(workers)) for s in workers.answer(i)]

    assert len(served) == 12
    assert {s.username for s in served} == {"alice"}
    assert emulator.refresh_calls() == 1
    assert len({s.tokens for s in served}) == 1
    tokens = served[0].tokens
    assert tokens is not None
    assert tokens[2] == old_refresh
    assert all(writes_session(s) for s in served)


def test_a_late_request_in_another_process_reuses_the_result_for_the_grace_window(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
) -> None:
    site = Site(emulator.config(), store)
    header = signed_in(site.config, clock)
    clock.advance(3600)

    [first] = workers.call(0, "load", site, clock.offset, header, 1, "sync")
    clock.advance(30)
    [late] = workers.call(1, "load", site, clock.offset, header, 1, "async")

    assert first.tokens is not None
    assert late.tokens == first.tokens
    assert emulator.refresh_calls() == 1

    clock.advance(31)  # past the 60 s window: the old token goes to the provider again
    [later] = workers.call(2, "load", site, clock.offset, header, 1, "sync")

    assert later.username == "alice"
    assert later.tokens is not None
    assert later.tokens != first.tokens
    assert emulator.refresh_calls() == 2


def test_rotation_late_tabs_in_other_processes_get_the_rotated_session(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
) -> None:
    """Cognito rotates the refresh token: a late request elsewhere with the rotated-away token
    gets the already-refreshed tokens; after the grace window its refusal deletes nothing,
    because every process knows the token was superseded."""
    rotating = HeldRotatingCognito(emulator.url, emulator.client_id, "alice", PASSWORD)
    rotating.open()
    rotating.start()
    try:
        site = Site(proxied(emulator, rotating), store)
        header = signed_in(site.config, clock)
        old_refresh = refresh_token_of(header, site.config)
        warm_up(workers, site, header, clock)
        clock.advance(3600)

        first, second = workers.call(0, "load", site, clock.offset, header, 2, "async")
        [late] = workers.call(1, "load", site, clock.offset, header, 1, "sync")

        assert first.tokens is not None
        assert first.tokens[2] != old_refresh
        assert second.tokens == late.tokens == first.tokens
        assert rotating.rotations == 1

        clock.advance(61)
        [stale] = workers.call(2, "load", site, clock.offset, header, 1, "sync")
        elsewhere = store.coordinator(clock)

        assert stale.username is None
        assert stale.set_cookie == ()  # the browser holds the newer cookies: delete nothing
        assert elsewhere.is_superseded(token_digest(old_refresh))
        assert not elsewhere.is_superseded(token_digest(first.tokens[2]))
        assert rotating.rotations == 1
    finally:
        rotating.stop()


def test_sign_out_in_one_process_is_final_in_the_others(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
) -> None:
    site = Site(emulator.config(), store)
    header = signed_in(site.config, clock)

    signed_out = workers.call(0, "sign_out", site, clock.offset, header)
    clock.advance(3600)
    [old_cookies] = workers.call(1, "load", site, clock.offset, header, 1, "async")

    assert signed_out.username is None
    assert not writes_session(signed_out)
    assert old_cookies.username is None
    assert old_cookies.set_cookie
    assert not writes_session(old_cookies)
    assert emulator.refresh_calls() == 0  # ...not refreshed


def test_a_refresh_in_flight_when_another_process_signs_out_is_thrown_away(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
    proxy: HeldCognito,
) -> None:
    site = Site(proxied(emulator, proxy), store)
    header = signed_in(site.config, clock)
    clock.advance(3600)

    workers.ask(0, "load", site, clock.offset, header, 1, "async")
    proxy.wait_held()
    # The signing-out request carries the same expired cookies: its own refresh attempt waits
    # on process 0's lease, gives up quickly (unavailable), and the sign-out goes on.
    impatient = Site(site.config, store.with_options(wait_timeout=0.3))
    signed_out = workers.call(1, "sign_out", impatient, clock.offset, header)
    proxy.open()
    [refreshing] = workers.answer(0)

    assert not writes_session(signed_out)
    assert refreshing.username is None
    assert refreshing.set_cookie
    assert not writes_session(refreshing)
    assert emulator.refresh_calls() == 1  # the held call reached moto; its tokens were dropped

    [late] = workers.call(2, "load", site, clock.offset, header, 1, "sync")
    assert late.username is None
    assert not writes_session(late)
    assert emulator.refresh_calls() == 1


def test_a_dead_leaders_lease_lapses_and_one_other_process_takes_over(
    workers: Workers, store: StoreSpec, emulator: CognitoEmulator, clock: ManualClock,
    proxy: HeldCognito,
) -> None:
    site = Site(proxied(emulator, proxy), store.with_options(lease_ttl=5.0))
    header = signed_in(site.config, clock)
    clock.advance(3600)

    workers.ask(3, "load", site, clock.offset, header, 1, "sync")
    proxy.wait_held()  # process 3 holds the lease and its call is on the wire
    workers.kill(3)
    proxy.open(drop=True)  # the dead process's call never reaches moto

    impatient = Site(site.config, site.store.with_options(wait_timeout=0.3))
    [blocked] = workers.call(1, "load", impatient, clock.offset, header, 1, "async")
    assert blocked.unavailable
    assert blocked.username is None
    assert not blocked.set_cookie  # waiting on a lease deletes nothing
    assert emulator.refresh_calls() == 0

    clock.advance(6)  # the dead leader's lease lapses
    [took_over] = workers.call(0, "load", site, clock.offset, header, 1, "sync")
    [after] = workers.call(2, "load", site, clock.offset, header, 1, "async")

    assert took_over.username == "alice"
    assert took_over.tokens is not None
    assert after.tokens == took_over.tokens
    assert emulator.refresh_calls() == 1
