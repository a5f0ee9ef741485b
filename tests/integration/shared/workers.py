"""Worker processes for the cross-process tests: each one is a server process of its own, with
its own SessionManager and coordinator on the test's store, reached through a pipe.

Started with the "spawn" context (a fresh interpreter, nothing inherited but what is sent), and
kept for a whole test module because starting one costs about a second. Every command carries
the test's site (emulator configuration and store) and its clock offset, so a worker serves
whichever test is running, on the same time line as the parent's ManualClock.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

from ssrauth import CognitoConfig, ManualClock, RequestAuth, SessionManager, SharedCoordinator
from ssrauth._core.tokens import token_digest
from tests.accounts import HOST, PASSWORD
from tests.browser_jar import BrowserJar
from tests.integration.rig.cookies import cookie_name, value_of

from .stores import StoreSpec

#: Bound on every wait for a worker: generous for two noisy cores, never a timing claim.
PATIENCE = 30.0


@dataclass(frozen=True)
class Site:
    """One test's deployment: the provider every worker talks to and their shared store."""

    config: CognitoConfig
    store: StoreSpec


@dataclass(frozen=True)
class Served:
    """What one request in a worker ended with."""

    username: str | None
    tokens: tuple[str, str | None, str] | None  # access, id, refresh, when it wrote a session
    set_cookie: tuple[str, ...]
    unavailable: bool


def _served(auth: RequestAuth) -> Served:
    lines = tuple(auth.set_cookie_headers())  # first: a sign-out elsewhere turns it into a clear
    tokens = auth.outcome.tokens
    return Served(
        auth.session.username if auth.session is not None else None,
        None if tokens is None else (tokens.access_token, tokens.id_token, tokens.refresh_token),
        lines,
        auth.unavailable is not None,
    )


class _Worker:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.managers: dict[Site, SessionManager] = {}

    def manager(self, site: Site, offset: float) -> SessionManager:
        self.clock.advance(offset - self.clock.offset)
        if site not in self.managers:
            # "default": what the app gets with no configuration (SSRAUTH_COORDINATOR unset).
            coordinator = None if site.store.kind == "default" else site.store.coordinator(
                self.clock)
            self.managers[site] = SessionManager(site.config, clock=self.clock,
                                                 coordinator=coordinator)
        return self.managers[site]

    def knows_revoked(self, site: Site, offset: float, refresh_token: str) -> bool:
        """Whether this process holds the tombstone in memory (in force with the store down)."""
        coordinator = self.manager(site, offset).coordinator
        assert isinstance(coordinator, SharedCoordinator)
        return coordinator.revocations.knows_revoked(token_digest(refresh_token))

    def load(self, site: Site, offset: float, header: str, requests: int,
             face: str) -> list[Served]:
        manager = self.manager(site, offset)
        if face == "async":
            async def all_at_once() -> list[RequestAuth]:
                return list(await asyncio.gather(
                    *(manager.aload(header, "/", HOST) for _ in range(requests))))

            return [_served(auth) for auth in asyncio.run(all_at_once())]
        with ThreadPoolExecutor(requests) as pool:
            return [_served(auth) for auth in
                    pool.map(lambda _: manager.load(header, "/", HOST), range(requests))]

    def sign_out(self, site: Site, offset: float, header: str) -> Served:
        auth = self.manager(site, offset).load(header, "/", HOST)
        auth.sign_out()
        return _served(auth)


def _serve(conn: multiprocessing.connection.Connection, barrier: Barrier) -> None:
    worker = _Worker()
    while True:
        command, args = conn.recv()
        if command == "stop":
            return
        if command == "together":
            barrier.wait(PATIENCE)
            command, args = args
        try:
            conn.send(("ok", getattr(worker, command)(*args)))
        except Exception as error:
            conn.send(("error", repr(error)))


class Workers:
    """``count`` worker processes; ``ask(i, command, *args)`` sends, ``answer(i)`` receives."""

    def __init__(self, count: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._barrier = self._context.Barrier(count)
        self._procs: list[Any] = [None] * count
        self._conns: list[multiprocessing.connection.Connection] = []
        for index in range(count):
            self._conns.append(self._start(index))

    def _start(self, index: int) -> multiprocessing.connection.Connection:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._barrier), daemon=True,
                                        name=f"ssrauth-worker-{index}")
        process.start()
        child.close()
        self._procs[index] = process
        return parent

    def __len__(self) -> int:
        return len(self._conns)

    def ask(self, index: int, command: str, *args: Any) -> None:
        self._conns[index].send((command, args))

    def ask_together(self, command: str, *args_per_worker: tuple[Any, ...]) -> None:
        """Every worker runs its command after all of them reached a barrier."""
        for index, args in enumerate(args_per_worker):
            self._conns[index].send(("together", (command, args)))

    def answer(self, index: int) -> Any:
        conn = self._conns[index]
        if not conn.poll(PATIENCE):
            raise AssertionError(f"worker {index} gave no answer")
        status, value = conn.recv()
        if status != "ok":
            raise AssertionError(f"worker {index} failed: {value}")
        return value

    def call(self, index: int, command: str, *args: Any) -> Any:
        self.ask(index, command, *args)
        return self.answer(index)

    def kill(self, index: int) -> None:
        """SIGKILL a worker (no cleanup of any kind runs in it), then start a fresh one."""
        process = self._procs[index]
        os.kill(process.pid, signal.SIGKILL)
        process.join(PATIENCE)
        self._conns[index].close()
        self._conns[index] = self._start(index)

    def stop(self) -> None:
        for conn, process in zip(self._conns, self._procs, strict=True):
            with contextlib.suppress(OSError):
                conn.send(("stop", ()))
            process.join(5)
            if process.is_alive():
                process.kill()


def signed_in(config: CognitoConfig, clock: ManualClock) -> str:
    """A Cookie header of alice's fresh session, as the browser holds it after sign-in."""
    manager = SessionManager(config, clock=clock)
    auth = manager.load("", "/", HOST)
    auth.sign_in("alice", PASSWORD)
    jar = BrowserJar(HOST)
    jar.apply(auth.set_cookie_headers())
    return jar.cookie_header("/")


def refresh_token_of(header: str, config: CognitoConfig) -> str:
    jar = BrowserJar(HOST)
    for pair in header.split("; "):
        name, _, value = pair.partition("=")
        jar.seed(name, value)
    return value_of(jar, cookie_name(config.client_id, "alice", "refreshToken"))


def warm_up(workers: Workers, site: Site, header: str, clock: ManualClock) -> None:
    """One request with the fresh session in every worker, so each has fetched the signing keys
    before the test's concurrent requests (as a server that has been up a while has)."""
    for index in range(len(workers)):
        [served] = workers.call(index, "load", site, clock.offset, header, 1, "sync")
        assert served.username == "alice"


def writes_session(served: Served) -> bool:
    return any("Max-Age=0" not in line and ".alice.accessToken=" in line
               for line in served.set_cookie)
