"""Holding a refresh in flight: an httpx transport that stops refresh calls on their way to moto
until the test lets them go."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx

from ssrauth import CognitoProvider, LocalCoordinator, ManualClock, SessionManager
from ssrauth.emulator import CognitoEmulator

from .waiting import WAIT


class RefreshGate:
    """Refresh calls wait here, on their way to the provider, until :meth:`release`.

    Only refreshes are held (sign-in, revocation and global sign-out pass), so a test can start
    a refresh, act while it is in flight, then let it complete against the real moto.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self.arrived = threading.Event()
        self.timed_out = False

    @staticmethod
    def holds(request: httpx.Request) -> bool:
        target = request.headers.get("x-amz-target", "")
        return target.endswith(".GetTokensFromRefreshToken") or (
            target.endswith(".InitiateAuth") and b"REFRESH_TOKEN_AUTH" in request.content
        )

    def release(self) -> None:
        self._open.set()

    def wait(self) -> None:
        self.arrived.set()
        if not self._open.wait(WAIT):
            self.timed_out = True  # the test asserts on this; the call then goes through

    async def await_open(self) -> None:
        self.arrived.set()
        deadline = time.monotonic() + WAIT
        while not self._open.is_set():
            if time.monotonic() > deadline:
                self.timed_out = True
                return
            await asyncio.sleep(0.005)


class _GatedTransport(httpx.BaseTransport):
    def __init__(self, gate: RefreshGate) -> None:
        self._gate = gate
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._gate.holds(request):
            self._gate.wait()
        return self._inner.handle_request(request)


class _AsyncGatedTransport(httpx.AsyncBaseTransport):
    def __init__(self, gate: RefreshGate) -> None:
        self._gate = gate
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._gate.holds(request):
            await self._gate.await_open()
        return await self._inner.handle_async_request(request)


def gated_manager(
    emulator: CognitoEmulator, clock: ManualClock, gate: RefreshGate, **coordinator: Any
) -> SessionManager:
    """A manager on the real emulator whose refresh calls pass through ``gate`` (both faces)."""
    config = emulator.config()
    provider = CognitoProvider(
        config,
        client=httpx.Client(transport=_GatedTransport(gate), timeout=config.timeout),
        async_client=httpx.AsyncClient(transport=_AsyncGatedTransport(gate),
                                       timeout=config.timeout),
    )
    return SessionManager(config, clock=clock, provider=provider,
                          coordinator=LocalCoordinator(clock=clock, **coordinator))
