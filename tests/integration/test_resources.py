"""What a SessionManager opens, it closes: the providers' httpx clients (the blocking one, and
the async ones, each on its own event loop), the coordinator's SQLite connections and Redis
clients; never a client the caller passed in. And when the adapters close it: the ASGI
middleware on lifespan shutdown, Flask's extension when told (not per request)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ssrauth import (
    CognitoProvider,
    ManualClock,
    RedisCoordinator,
    SessionManager,
    SqliteCoordinator,
)
from ssrauth._providers.http import HttpClients
from ssrauth.emulator import CognitoEmulator
from ssrauth.flask import SsrAuth, get_auth
from ssrauth.starlette import SsrAuthMiddleware
from tests.accounts import HOST, PASSWORD

from .shared.stores import REDIS_URL, redis_client


def _open_files(matching: str) -> int:
    """How many of this process's descriptors point at ``matching`` (a path, or "socket:")."""
    found = 0
    for fd in os.listdir(f"/proc/{os.getpid()}/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
            found += os.readlink(f"/proc/{os.getpid()}/fd/{fd}").startswith(matching)
    return found


@contextlib.contextmanager
def _loop_in_a_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop serving in another thread, as a server's loop does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def _expired_session(manager: SessionManager, clock: ManualClock) -> str:
    """A signed-in Cookie header whose tokens have expired: the next load refreshes."""
    signing_in = manager.load("", "/", HOST)
    signing_in.sign_in("alice", PASSWORD)
    clock.advance(3600)
    return "; ".join(line.split(";")[0] for line in signing_in.set_cookie_headers())


# -- the provider's httpx clients ------------------------------------------------------------


def test_close_closes_the_blocking_client_and_async_clients_of_live_loops() -> None:
    clients = HttpClients(timeout=5.0)
    blocking = clients.sync()

    async def async_client() -> httpx.AsyncClient:
        return clients.async_()

    with _loop_in_a_thread() as loop:
        elsewhere = asyncio.run_coroutine_threadsafe(async_client(), loop).result(5)
        clients.close()  # from this thread: the other loop closes its own client
        assert elsewhere.is_closed
    assert blocking.is_closed


def test_aclose_closes_this_loops_async_client_here() -> None:
    clients = HttpClients(timeout=5.0)

    async def use_then_close() -> httpx.AsyncClient:
        client = clients.async_()
        await clients.aclose()
        return client

    assert asyncio.run(use_then_close()).is_closed


def test_a_blocking_close_called_on_the_loop_closes_its_client_there() -> None:
    clients = HttpClients(timeout=5.0)

    async def closed_while_the_loop_runs() -> bool:
        client = clients.async_()
        clients.close()  # cannot wait here: the closing is scheduled on this loop
        for _ in range(100):
            if client.is_closed:
                return True
            await asyncio.sleep(0)
        return False

    assert asyncio.run(closed_while_the_loop_runs())


def test_an_async_client_closes_when_its_loop_shuts_down() -> None:
    """asyncio.run per call (asgiref's async_to_sync under Django's WSGI handler does the same):
    each loop's client is closed by that loop's own shutdown, before the loop closes."""
    clients = HttpClients(timeout=5.0)

    async def use() -> httpx.AsyncClient:
        return clients.async_()

    made = [asyncio.run(use()) for _ in range(3)]
    assert all(client.is_closed for client in made)
    assert len(set(map(id, made))) == 3


def test_clients_passed_in_stay_open() -> None:
    """The caller made them and may share them: closing them is the caller's."""
    with httpx.Client() as own, CognitoEmulator(ManualClock()) as emulator:
        provider = CognitoProvider(emulator.config(), client=own)
        with SessionManager(emulator.config(), provider=provider):
            pass
        assert not own.is_closed


def test_the_manager_closes_what_its_refresh_opened(
    emulator: CognitoEmulator, clock: ManualClock, tmp_path: Path
) -> None:
    """A refresh through the blocking face opens the provider's client and a SQLite connection
    per thread; leaving the ``with`` block closes every one of them."""
    database = tmp_path / "ssrauth.db"
    coordinator = SqliteCoordinator(database, clock=clock)
    with SessionManager(emulator.config(), clock=clock, coordinator=coordinator) as manager:
        header = _expired_session(manager, clock)
        threads = [threading.Thread(target=manager.load, args=(header, "/", HOST))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert manager.load(header, "/", HOST).session is not None
        assert _open_files(str(database)) >= 1
        blocking = manager.provider._http.sync()
    assert _open_files(str(database)) == 0
    assert blocking.is_closed
    assert emulator.refresh_calls() == 1


def test_async_with_closes_the_redis_clients_of_both_faces(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    redis_client().close()  # fails with a clear message when Redis is not there

    async def serve() -> None:
        before = _open_files("socket:")  # the loop's own self-pipe included
        coordinator = RedisCoordinator(REDIS_URL, clock=clock, prefix="ssrauth-test:closing:")
        async with SessionManager(emulator.config(), clock=clock,
                                  coordinator=coordinator) as manager:
            header = await asyncio.to_thread(_expired_session, manager, clock)
            assert (await manager.aload(header, "/", HOST)).session is not None
            assert coordinator.is_revoked(b"\0" * 32) is False  # the blocking client too
            assert _open_files("socket:") > before
        assert _open_files("socket:") <= before  # closed by aclose, not by the loop's end

    asyncio.run(serve())


# -- the adapters ------------------------------------------------------------------------------


def test_the_asgi_middleware_closes_the_manager_on_lifespan_shutdown(
    emulator: CognitoEmulator, clock: ManualClock, tmp_path: Path
) -> None:
    """The loop's own end would close its async clients anyway; the coordinator's connections
    (opened in worker threads by the async face) and the blocking client close only if the
    shutdown closes the manager."""
    database = tmp_path / "ssrauth.db"
    manager = SessionManager(emulator.config(), clock=clock,
                             coordinator=SqliteCoordinator(database, clock=clock))
    blocking = manager.provider._http.sync()

    async def sign_in(request: Request) -> JSONResponse:
        from ssrauth.starlette import get_auth as auth_of

        session = await auth_of(request).asign_in("alice", PASSWORD)
        return JSONResponse({"username": session.username})

    app = SsrAuthMiddleware(Starlette(routes=[Route("/signin", sign_in, methods=["POST"])]),
                            manager)
    with TestClient(app, base_url=f"http://{HOST}") as client:  # startup, then shutdown
        assert client.post("/signin").json() == {"username": "alice"}
        header = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        clock.advance(3600)
        assert client.get("/signin", headers={"cookie": header}).status_code == 405  # refreshed
        assert _open_files(str(database)) >= 1
        serving = list(manager.provider._http._loop_clients._held.values())
        assert [client.is_closed for client, _ in serving] == [False]
    assert serving[0][0].is_closed
    assert _open_files(str(database)) == 0
    assert blocking.is_closed
    assert emulator.refresh_calls() == 1


def test_flask_closes_the_manager_when_told_not_after_each_request(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    app = Flask(__name__)
    extension = SsrAuth(app, manager=SessionManager(emulator.config(), clock=clock))

    @app.post("/signin")
    def sign_in() -> dict[str, str]:
        return {"username": get_auth().sign_in("alice", PASSWORD).username}

    client = app.test_client()
    assert client.post("/signin", base_url=f"http://{HOST}").status_code == 200
    assert extension.manager is not None
    blocking = extension.manager.provider._http.sync()
    assert client.post("/signin", base_url=f"http://{HOST}").status_code == 200
    assert not blocking.is_closed  # the app context's teardown left it to the next request
    assert extension.manager.provider._http.sync() is blocking

    extension.close()
    assert blocking.is_closed


def test_django_closes_the_configured_manager_when_told(
    emulator: CognitoEmulator, clock: ManualClock
) -> None:
    from ssrauth.django import close_manager

    from . import django_site

    django_site.configure()
    django_site.manager = SessionManager(emulator.config(), clock=clock)
    try:
        blocking = django_site.manager.provider._http.sync()
        close_manager()
        assert blocking.is_closed
    finally:
        django_site.manager = None
