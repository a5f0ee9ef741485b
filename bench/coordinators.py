"""``python -m bench.coordinators``: what a shared coordinator costs a signed-in request.

A shared coordinator (SQLite, Redis) makes a sign-out in one worker final in all others by
checking the request's refresh token against the tombstones. It reads them from memory, kept
current by a thread following the store's feed of sign-outs (the store is read per request only
while that feed is more than ``propagation_delay`` behind), so a signed-in request should cost
what it costs under ``LocalCoordinator``. This measures ``SessionManager.load`` for a valid
session under each coordinator, once each feed is fresh, interleaved batch by batch in one run,
and prints each as a ratio of the local figure (1.00x = free).

Then how long a sign-out takes to reach another process's memory through each store's feed
(``propagation_delay`` bounds it; this is what it is in practice): a coordinator revokes a key,
a second one over the same store, with its own feed thread, is polled until it knows it.

Needs Redis on 127.0.0.1:6379 (``SSRAUTH_BENCH_REDIS`` to point elsewhere); it is left out,
with a note, when unreachable.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ssrauth import (
    CookiePolicy,
    ManualClock,
    RefreshCoordinator,
    SessionManager,
    SharedCoordinator,
)
from ssrauth._coordination.url import coordinator_from_url
from ssrauth.emulator import CognitoEmulator

from ._micro import Op, time_interleaved

HOST = "app.example.com"
USERNAME, PASSWORD = "bench@example.com", "Bench-passw0rd!"
CALLS = 20_000
BUDGET_SECONDS = 20.0


def _signed_in_header(manager: SessionManager) -> str:
    auth = manager.load("", "/", HOST)
    auth.sign_in(USERNAME, PASSWORD)
    return "; ".join(line.split(";", 1)[0] for line in auth.set_cookie_headers())


def _coordinators(clock: ManualClock, folder: Path) -> tuple[dict[str, RefreshCoordinator],
                                                            list[str]]:
    urls = {"local": "local", "sqlite": f"sqlite://{folder / 'ssrauth.db'}",
            "redis": os.environ.get("SSRAUTH_BENCH_REDIS",
                                    "redis://127.0.0.1:6379/0?prefix=ssrauth-bench:")}
    made: dict[str, RefreshCoordinator] = {}
    notes: list[str] = []
    for name, url in urls.items():
        coordinator = coordinator_from_url(url, clock=clock)
        try:
            coordinator.is_revoked(b"\0" * 32)  # reachable?
        except Exception as error:  # any failure means "leave it out"
            notes.append(f"{name}: left out ({error.__class__.__name__}: {error})")
            continue
        if isinstance(coordinator, SharedCoordinator):  # measure the steady state
            deadline = time.monotonic() + 10
            while not coordinator.revocations.is_fresh() and time.monotonic() < deadline:
                time.sleep(0.01)
        made[name] = coordinator
    return made, notes


def main() -> int:
    clock = ManualClock()
    with CognitoEmulator(clock) as emulator, tempfile.TemporaryDirectory() as folder:
        emulator.create_user(USERNAME, PASSWORD)
        config = emulator.config(cookie_policy=CookiePolicy())
        coordinators, notes = _coordinators(clock, Path(folder))
        managers = {name: SessionManager(config, clock=clock, coordinator=coordinator)
                    for name, coordinator in coordinators.items()}
        header = _signed_in_header(managers["local"])

        def op(manager: SessionManager) -> Op:
            def prepare(n: int) -> list[str]:
                # A new str per call, as a server decodes one per request (see bench._micro).
                return ["".join([header[:1], header[1:]]) for _ in range(n)]

            def call(cookie_header: str) -> object:
                auth = manager.load(cookie_header, "/orders/42", HOST)
                assert auth.session is not None
                return auth

            return prepare, call

        timings = time_interleaved({name: op(m) for name, m in managers.items()},
                                   dict.fromkeys(managers, CALLS), BUDGET_SECONDS)
        propagation = _propagation(clock, Path(folder))
    base = timings["local"].median_us
    print("SessionManager.load, valid session, per request (median, p90; ratio to local):")
    for name, timing in timings.items():
        print(f"  {name:<7} {timing.median_us:8.1f} µs  p90 {timing.p90_us:8.1f} µs  "
              f"{timing.median_us / base:6.2f}x  ({timing.calls:,} calls)")
    for note in notes:
        print("  " + note)
    for line in propagation:
        print(line)
    return 0


#: Sign-outs timed per store.
PROPAGATIONS = 50


def _propagation(clock: ManualClock, folder: Path) -> list[str]:
    lines = [f"Sign-out propagation to another process's memory ({PROPAGATIONS} sign-outs; "
             "median, max; bound: propagation_delay):"]
    coordinators, notes = _coordinators(clock, folder)
    for name, coordinator in coordinators.items():
        if not isinstance(coordinator, SharedCoordinator):
            continue
        other, _ = _coordinators(clock, folder)
        observer = other[name]
        assert isinstance(observer, SharedCoordinator)
        delays = []
        for _ in range(PROPAGATIONS):
            key = secrets.token_bytes(32)
            started = time.monotonic()
            coordinator.revoke(key)
            while not observer.revocations.knows_revoked(key):
                if time.monotonic() - started > 10:
                    raise SystemExit(f"{name}: a sign-out did not propagate within 10 s")
                time.sleep(0.0002)
            delays.append((time.monotonic() - started) * 1000)
        lines.append(f"  {name:<7} {statistics.median(delays):8.2f} ms  max "
                     f"{max(delays):8.2f} ms  (bound "
                     f"{observer.revocations.propagation_delay * 1000:.0f} ms)")
        observer.close()
    for coordinator in coordinators.values():
        if isinstance(coordinator, SharedCoordinator):
            coordinator.close()
    return lines + ["  " + note for note in notes]


if __name__ == "__main__":
    sys.exit(main())
