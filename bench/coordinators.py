"""``python -m bench.coordinators``: what a shared coordinator costs a signed-in request.

A shared coordinator (SQLite, Redis) makes a sign-out in one worker final in all others by
checking the request's refresh token against the store's tombstones: one indexed SQLite read or
one Redis GET on every request that carries a session, where ``LocalCoordinator`` reads a dict.
This measures ``SessionManager.load`` for a valid session under each coordinator, interleaved
batch by batch in one run, and prints each as a ratio of the local figure (1.00x = free).

Needs Redis on 127.0.0.1:6379 (``SSRAUTH_BENCH_REDIS`` to point elsewhere); it is left out,
with a note, when unreachable.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ssrauth import CookiePolicy, ManualClock, RefreshCoordinator, SessionManager
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
    base = timings["local"].median_us
    print("SessionManager.load, valid session, per request (median, p90; ratio to local):")
    for name, timing in timings.items():
        print(f"  {name:<7} {timing.median_us:8.1f} µs  p90 {timing.p90_us:8.1f} µs  "
              f"{timing.median_us / base:6.2f}x  ({timing.calls:,} calls)")
    for note in notes:
        print("  " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
